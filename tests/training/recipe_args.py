"""Command-line arguments for tiny CPU training runs (shared by the training tests)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROWS = [
    {
        "instruction": "List the medications in the note.",
        "input": "Metformin 500 mg twice daily.",
        "output": "Metformin",
        "category": "IE",
    },
    {
        "instruction": "Answer yes or no: is aspirin an antiplatelet drug?",
        "input": "",
        "output": "yes",
        "category": "QA",
    },
    {
        "instruction": "Rewrite the sentence for a patient.",
        "input": "Hypertension is elevated arterial pressure.",
        "output": "High blood pressure.",
        "category": "GEN",
    },
    {
        "instruction": "Classify the note section.",
        "input": "Denies chest pain.",
        "output": "Review of systems",
        "category": "OTHER",
    },
]


def write_rows(path: Path, rows=None, repeat: int = 8) -> Path:
    rows = ROWS * repeat if rows is None else rows
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def tiny_recipe(path: Path, model_dir: Path, data: Path, output_dir: Path, **overrides) -> Path:
    """Write a YAML recipe like examples/recipes/tiny-cpu.yaml, for a test's own paths."""
    recipe = {
        "model_name_or_path": str(model_dir),
        "dataset_name": str(data),
        "prompt_template": "bioinstruct",
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "dataloader_num_workers": 0,
        "max_length": 256,
        "max_steps": 12,
        "learning_rate": 1.0e-2,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "logging_steps": 1,
        "save_steps": 1000,
        "disable_tqdm": True,
        "output_dir": str(output_dir),
    }
    recipe.update(overrides)
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path
