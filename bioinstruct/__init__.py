"""bioinstruct: biomedical instruction tuning on the Hugging Face stack.

The public API is imported lazily, so ``import bioinstruct`` stays cheap (no torch) and a
user who only generates data never imports the training stack.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC: dict[str, str] = {
    "BioInstructError": "bioinstruct.errors",
    "BioInstructBuilder": "bioinstruct.generation.builder",
    "load_seed_tasks": "bioinstruct.generation.seeds",
    "SimilarityIndex": "bioinstruct.similarity.rouge",
    "filter_near_duplicates": "bioinstruct.similarity.rouge",
    "ContaminationIndex": "bioinstruct.decontamination",
    "decontaminate": "bioinstruct.decontamination",
    "build_tiny_llama": "bioinstruct.training.tiny",
    "GenerateConfig": "bioinstruct.generation.config",
    "Evaluator": "bioinstruct.evaluation.evaluator",
    "EvaluateConfig": "bioinstruct.evaluation.config",
    "evaluate": "bioinstruct.evaluation.configured",
    "BenchmarkOverlap": "bioinstruct.decontamination",
    "register_yaml": "bioinstruct.benchmarks",
    "register_benchmark": "bioinstruct.benchmarks",
    "get_benchmark": "bioinstruct.benchmarks",
    "list_benchmarks": "bioinstruct.benchmarks",
    "push_dataset": "bioinstruct.hub",
    "push_adapter": "bioinstruct.hub",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bioinstruct' has no attribute {name!r}")
