"""Small on-disk artefacts for the card and push tests: a trained-adapter folder and a results.json.

The adapter folder has what `bioinstruct train` leaves (adapter_config.json, a safetensors file with
LoRA tensors, tokenizer files, trainer_state.json, recipe.yaml, bioinstruct_card.json) without
training anything, so the card and push tests run in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASE = "meta-llama/Llama-2-7b-hf"

CONTEXT: dict[str, Any] = {
    "model_name": "lora",
    "repo_or_path": "runs/lora",
    "adapter": True,
    "base_model": BASE,
    "base_model_id": BASE,
    "dataset": "runs/bioinstruct",
    "dataset_id": None,
    "categories": None,
    "template": "bioinstruct",
    "loss": "response (completion) only, EOS included",
    "train_rows": 120,
    "eval_rows": 0,
    "quantization": "",
    "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "targets": "all-linear"},
    "hp": {
        "learning_rate": 0.0002, "lr_scheduler_type": "cosine", "warmup_ratio": 0.03, "num_train_epochs": 3.0,
        "max_steps": -1, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 8, "world_size": 1,
        "max_length": 1024, "packing": False, "packing_strategy": "bfd", "precision": "bf16", "seed": 42,
    },
    "versions": {"bioinstruct": "0.1.0", "trl": "1.16.0"},
    "results": {"global_step": 30, "train_loss": 1.2345},
    "recipe": {"model_name_or_path": BASE, "dataset_name": "runs/bioinstruct", "lora_r": 8, "lora_alpha": 16},
}  # fmt: skip

LOG_HISTORY = [
    *({"step": step, "loss": 3.0 - step / 20, "learning_rate": 2e-4} for step in range(1, 31)),
    {"step": 15, "eval_loss": 2.5},
    {"step": 30, "eval_loss": 1.9},
    {"step": 30, "train_loss": 1.2345, "train_runtime": 12.0},
]


def make_adapter(
    folder: Path,
    *,
    context: dict[str, Any] | None = None,
    log_history: list[dict[str, Any]] | None = None,
    state_in: str = ".",
    recipe: bool = True,
) -> Path:
    """A folder shaped like a `bioinstruct train` output. ``state_in``: where trainer_state.json goes
    (``"."``, a ``checkpoint-N`` folder, or ``""`` for nowhere)."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 16, "base_model_name_or_path": BASE})
    )
    save_file(
        {
            "base_model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.ones(8, 16),
            "base_model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.ones(16, 8),
        },
        str(folder / "adapter_model.safetensors"),
    )
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    (folder / "tokenizer_config.json").write_text('{"model_max_length": 1024}')
    (folder / "training_args.bin").write_bytes(b"not published")
    card_context = dict(CONTEXT if context is None else context)
    (folder / "bioinstruct_card.json").write_text(json.dumps(card_context))
    if recipe:
        (folder / "recipe.yaml").write_text(
            "model_name_or_path: meta-llama/Llama-2-7b-hf\ndataset_name: runs/bioinstruct\nlora_r: 8\n"
        )
    if state_in:
        state_dir = folder / state_in
        state_dir.mkdir(parents=True, exist_ok=True)
        history = LOG_HISTORY if log_history is None else log_history
        (state_dir / "trainer_state.json").write_text(json.dumps({"global_step": 30, "log_history": history}))
    return folder


def result(
    benchmark: str,
    adapter: str | None,
    score: float,
    *,
    adapter_path: str | None = None,
    protocol: str = "loglikelihood",
    shots: int = 0,
    model: str = BASE,
    metric: str = "accuracy",
    source: str = "GBaker/MedQA-USMLE-4-options [test]",
) -> dict[str, Any]:
    """One entry of results.json, as `EvalResults.save` writes it."""
    return {
        "benchmark": benchmark,
        "model": model,
        "adapter": adapter,
        "metrics": {metric: score},
        "n": 200,
        "primary_metric": metric,
        "unparseable": 3 if protocol == "generative" else None,
        "ci": [score - 0.05, score + 0.05],
        "protocol": {
            "task": "multiple_choice" if metric == "accuracy" else "generation",
            "protocol": protocol,
            "template": "bioinstruct",
            "num_fewshot": shots,
            "model": model,
            "adapter": adapter,
            "adapter_path": adapter_path,
            "data_source": source,
            "items": "the 1,273 test questions",
            "limit": None,
        },
    }


def write_results(path: Path, adapter_dir: Path) -> Path:
    """results.json with the base model and two adapters: MedQA under two protocols, PubMedQA once."""
    mine, other = str(adapter_dir), str(adapter_dir.parent / "other-lora")
    entries = [
        result("medqa", None, 0.30),
        result("medqa", "lora", 0.41, adapter_path=mine),
        result("medqa", "other-lora", 0.35, adapter_path=other),
        result("medqa", None, 0.28, protocol="generative"),
        result("medqa", "lora", 0.39, adapter_path=mine, protocol="generative"),
        result("pubmedqa", None, 0.55, source="local file /home/someone/data/pubmedqa.jsonl"),
        result(
            "pubmedqa", "lora", 0.62, adapter_path=mine, source="local file /home/someone/data/pubmedqa.jsonl"
        ),
    ]
    data = {"results": entries, "skipped": {"bioasq": "needs local data (--data-file bioasq=PATH)"}}
    path.write_text(json.dumps(data, indent=2))
    return path
