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
    "SimilarityIndex": "bioinstruct.generation.similarity",
    "filter_near_duplicates": "bioinstruct.generation.similarity",
    "ContaminationIndex": "bioinstruct.generation.overlap_index",
    "decontaminate": "bioinstruct.generation.decontamination",
    "build_tiny_llama": "bioinstruct.training.tiny",
    "Evaluator": "bioinstruct.evaluation.evaluator",
    "register_benchmark": "bioinstruct.evaluation.registry",
    "get_benchmark": "bioinstruct.evaluation.registry",
    "list_benchmarks": "bioinstruct.evaluation.registry",
    "push_dataset": "bioinstruct.hub",
    "push_adapter": "bioinstruct.hub",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'bioinstruct' has no attribute {name!r}")
