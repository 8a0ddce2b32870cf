"""Render the model card saved next to a trained adapter (and pushed with it).

Why our own card: TRL's generic card does not say which data, categories, prompt template
and LoRA settings produced the adapter, and without the template a user prompts the model
wrongly. The template is ``data_cards/model_card.md.jinja``; nothing secret is in its context.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import jinja2

from bioinstruct.resources import data_path

_PACKAGES = ("bioinstruct", "transformers", "trl", "peft", "accelerate", "datasets", "torch", "deepspeed")


def framework_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def card_context(
    script_args: Any, training_args: Any, model_args: Any, *, train_rows: int, eval_rows: int
) -> dict:
    """Everything the card shows, from the three config objects (no tokens, no paths to secrets)."""
    targets = model_args.lora_target_modules
    quantization = (
        "4-bit NF4 (bitsandbytes)"
        if model_args.load_in_4bit
        else ("8-bit" if model_args.load_in_8bit else "")
    )
    precision = "bf16" if training_args.bf16 else ("fp16" if training_args.fp16 else "fp32")
    base = model_args.model_name_or_path
    dataset = script_args.dataset_name
    return {
        "model_name": training_args.hub_model_id or Path(training_args.output_dir).name,
        "repo_or_path": training_args.hub_model_id or training_args.output_dir,
        "adapter": bool(model_args.use_peft),
        "base_model": base,
        "base_model_id": base if base and not Path(base).exists() else None,
        "dataset": dataset,
        "dataset_id": dataset if dataset and not Path(dataset).exists() else None,
        "categories": script_args.categories,
        "template": script_args.prompt_template,
        "loss": "assistant turns only"
        if training_args.assistant_only_loss
        else "response (completion) only, EOS included",
        "train_rows": train_rows,
        "eval_rows": eval_rows,
        "quantization": quantization,
        "lora": {
            "r": model_args.lora_r,
            "alpha": model_args.lora_alpha,
            "dropout": model_args.lora_dropout,
            "targets": targets if isinstance(targets, str) else ", ".join(targets or []),
        },
        "hp": {
            "learning_rate": training_args.learning_rate,
            "lr_scheduler_type": str(
                getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type)
            ),
            "warmup_ratio": training_args.warmup_ratio,
            "num_train_epochs": training_args.num_train_epochs,
            "max_steps": training_args.max_steps,
            "per_device_train_batch_size": training_args.per_device_train_batch_size,
            "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
            "world_size": training_args.world_size,
            "max_length": training_args.max_length,
            "packing": training_args.packing,
            "packing_strategy": training_args.packing_strategy,
            "precision": precision,
            "seed": training_args.seed,
        },
        "versions": framework_versions(),
        "results": None,
    }


def render_model_card(context: dict[str, Any]) -> str:
    template_text = data_path("data_cards", "model_card.md.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(template_text).render(**context)


CARD_CONTEXT_FILE = "bioinstruct_card.json"


def write_model_card(output_dir: str | Path, context: dict[str, Any]) -> Path:
    """Write ``README.md`` and the context it was rendered from (``bioinstruct push adapter`` re-renders
    it with the Hub repo id in place of the local path)."""
    path = Path(output_dir) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_model_card(context), encoding="utf-8")
    (path.parent / CARD_CONTEXT_FILE).write_text(json.dumps(context, indent=2, default=str), encoding="utf-8")
    return path
