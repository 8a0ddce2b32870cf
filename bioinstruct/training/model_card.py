"""Render the model card saved next to a trained adapter (and pushed with it).

Why our own card: TRL's generic card does not say which data, categories, prompt template
and LoRA settings produced the adapter, and without the template a user prompts the model
wrongly. The card is ``ModelCard.from_template`` of ``data_cards/model_card.md.jinja`` with the
YAML front matter (base model, datasets, licence, ``model-index``) from huggingface_hub's
``ModelCardData`` (checked by :func:`bioinstruct.card_templates.render_card`). It is written here,
in training, since the trainer writes it at the end of every run (and ``trainer.push_to_hub``
uploads it); it uses only huggingface_hub and the core card-template helpers, never the
``bioinstruct.cards`` package above training. Nothing secret is in the context: the recipe never
holds token fields.

The context is saved as ``bioinstruct_card.json`` at train time; ``bioinstruct push adapter``
re-renders it for the Hub repo id, with the loss curve, the recipe and evaluation results.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bioinstruct.jsonio import write_text_atomically
from bioinstruct.resources import data_path

logger = logging.getLogger(__name__)

_PACKAGES = ("bioinstruct", "transformers", "trl", "peft", "accelerate", "datasets", "torch", "deepspeed")
MODEL_CARD_TEMPLATE = "model_card.md.jinja"
CARD_CONTEXT_FILE = "bioinstruct_card.json"
LOSS_CURVE = "images/loss_curve.png"
#: Keys a context saved by an older version may lack; filled in before rendering.
CARD_DEFAULTS: dict[str, Any] = {
    "results": None,
    "recipe": None,
    "recipe_yaml": None,
    "loss_curve": None,
    "loss_summary": None,
    "evaluation": None,
    "license": "other",
    "dataset_id": None,
    "base_model_id": None,
    "adapter_dir": None,
    "hub_repo_id": None,
}
#: Render-time keys: derived from files, never saved in bioinstruct_card.json.
_DERIVED = ("recipe_yaml", "loss_curve", "loss_summary", "evaluation")


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
        # The card's commands fill in what is known and leave placeholders for the rest.
        "adapter_dir": str(training_args.output_dir),
        "hub_repo_id": training_args.hub_model_id,
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


def model_card_data(context: Mapping[str, Any]) -> Any:
    """The YAML front matter, built by huggingface_hub's ``ModelCardData`` (``model-index`` included)."""
    from huggingface_hub import EvalResult, ModelCardData

    evaluation = context.get("evaluation")
    eval_results = None
    if evaluation:
        # model-index holds one entry per task and dataset with its metrics; ordered that way, the
        # card parses back to the same list, whatever order results.json had.
        groups: dict[tuple, list[Any]] = {}
        for fields in evaluation["eval_results"]:
            result = EvalResult(**fields)
            groups.setdefault(result.unique_identifier, []).append(result)
        eval_results = [result for group in groups.values() for result in group] or None
    tags = ["bioinstruct", "biomedical", "trl", "sft"]
    tags += ["lora"] if context["adapter"] else []
    tags += ["qlora"] if context.get("quantization") else []
    return ModelCardData(
        base_model=context.get("base_model_id"),
        datasets=[context["dataset_id"]] if context.get("dataset_id") else None,
        library_name="peft" if context["adapter"] else "transformers",
        license=context.get("license") or "other",
        pipeline_tag="text-generation",
        tags=tags,
        model_name=context["model_name"] if eval_results else None,
        eval_results=eval_results,
    )


def render_model_card(context: Mapping[str, Any], template: str | Path | None = None) -> str:
    """``ModelCard.from_template`` of ``data_cards/model_card.md.jinja`` (or ``template``), as text."""
    from huggingface_hub import ModelCard

    from bioinstruct.card_templates import render_card

    full = {**CARD_DEFAULTS, **context}
    path = Path(template) if template else data_path("data_cards", MODEL_CARD_TEMPLATE)
    card_data = model_card_data(full)
    expected: dict[str, Any] = {"license": card_data.license, "base_model": card_data.base_model}
    if card_data.eval_results:
        expected["eval_results"] = card_data.eval_results
    return render_card(ModelCard, card_data, path, full, expected=expected)


def find_log_history(output_dir: str | Path) -> tuple[list[dict[str, Any]], Path | None]:
    """The ``log_history`` of the most advanced ``trainer_state.json`` in ``output_dir`` or its checkpoints.

    ``bioinstruct train`` saves the final state in ``output_dir``; a run saved by other means may
    only have ``checkpoint-N/trainer_state.json``. Returns ``([], None)`` when there is none.
    """
    folder = Path(output_dir)
    candidates = [folder / "trainer_state.json", *sorted(folder.glob("checkpoint-*/trainer_state.json"))]
    best: tuple[tuple[int, bool], list[dict[str, Any]], Path] | None = None
    for path in candidates:
        if not path.is_file():
            continue
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            logger.warning("ignoring unreadable %s (%s)", path, type(err).__name__)
            continue
        if not isinstance(state, dict):
            continue
        history = [entry for entry in state.get("log_history") or [] if isinstance(entry, dict)]
        key = (int(state.get("global_step") or 0), path.parent == folder)
        if best is None or key > best[0]:
            best = (key, history, path)
    return (best[1], best[2]) if best else ([], None)


def loss_summary(log_history: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """First and last logged train loss (and last eval loss) with their steps; None without any."""
    from bioinstruct.plots import loss_points

    points = loss_points(log_history)
    if not points["train"] and not points["eval"]:
        return None
    summary: dict[str, Any] = {"logged": len(points["train"])}
    if points["train"]:
        (first_step, first), (last_step, last) = points["train"][0], points["train"][-1]
        summary.update(
            first=round(first, 4), first_step=int(first_step), last=round(last, 4), last_step=int(last_step)
        )
    if points["eval"]:
        step, value = points["eval"][-1]
        summary.update(eval_last=round(value, 4), eval_step=int(step))
    return summary


def write_card_folder(
    folder: str | Path,
    context: Mapping[str, Any],
    *,
    log_history: Sequence[Mapping[str, Any]] = (),
    recipe_text: str | None = None,
    evaluation: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``README.md``, ``recipe.yaml`` and ``images/loss_curve.png`` (when there is a loss) into ``folder``."""
    from bioinstruct.plots import loss_curve_png
    from bioinstruct.training.recipe_file import RECIPE_FILE, recipe_yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    full = {**CARD_DEFAULTS, **context}
    if recipe_text is None and full.get("recipe"):
        recipe_text = recipe_yaml(full["recipe"])
    if recipe_text:
        write_text_atomically(folder / RECIPE_FILE, recipe_text)
    curve = loss_curve_png(log_history, folder / LOSS_CURVE) if log_history else None
    full.update(
        recipe_yaml=recipe_text or None,
        loss_curve=LOSS_CURVE if curve else None,
        loss_summary=loss_summary(log_history),
        evaluation=dict(evaluation) if evaluation else None,
    )
    path = folder / "README.md"
    write_text_atomically(path, render_model_card(full))
    return path


def write_model_card(
    output_dir: str | Path, context: dict[str, Any], log_history: Sequence[Mapping[str, Any]] = ()
) -> Path:
    """Write the card (README.md, recipe.yaml, loss curve) and the context it was rendered from
    (``bioinstruct push adapter`` re-renders it with the Hub repo id in place of the local path)."""
    path = write_card_folder(output_dir, context, log_history=log_history)
    saved = {key: value for key, value in context.items() if key not in _DERIVED}
    write_text_atomically(path.parent / CARD_CONTEXT_FILE, json.dumps(saved, indent=2, default=str))
    return path
