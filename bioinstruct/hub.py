"""Push generated datasets and trained adapters to the Hugging Face Hub, each with its card.

Why a folder and a card together: a dataset without its card loses the provenance that makes
synthetic data usable (teacher, prompt and seed hashes, filter statistics, cost, decontamination),
and an adapter without its card loses the base model, recipe and evaluation protocol. Each push
builds one folder (the data or adapter, ``README.md`` and the charts it links) and uploads it in one
commit with ``HfApi.upload_folder`` into a repo created private unless asked otherwise; ``dry_run``
writes exactly that folder to disk instead (:mod:`bioinstruct.hub_upload`). The token is only ever
handed to ``HfApi`` (default: HF_TOKEN or the cached ``hf auth login``); it is never logged, printed
or written to a file.

Dataset repo::

    README.md                 dataset card (YAML: license, size, configs -> data/train.jsonl)
    data/train.jsonl          the accepted rows of instructions.jsonl
    images/category_mix.png   rows per category

Adapter repo::

    README.md                 model card (YAML: base_model, datasets, model-index from results.json)
    adapter_config.json, adapter_model.safetensors, tokenizer files
    recipe.yaml               the effective training configuration (when recorded)
    images/loss_curve.png     from trainer_state.json (when it logged a loss)
    results.json              this adapter's and its base model's results (with --results)
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bioinstruct.cards.dataset import (
    CATEGORY_IMAGE,
    DATA_PATH_IN_REPO,
    DATASET_CARD_TEMPLATE,
    DEFAULT_LICENSE,
    DIVERSITY_IMAGE,
    category_counts,
    dataset_card_context,
    render_dataset_card,
)
from bioinstruct.cards.evaluation import public_copy, public_path
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.hub_upload import publish
from bioinstruct.jsonio import write_records, write_text_atomically

logger = logging.getLogger(__name__)

__all__ = [
    "ADAPTER_REPO_FILES",
    "CATEGORY_IMAGE",
    "DATASET_CARD_TEMPLATE",
    "DATA_PATH_IN_REPO",
    "DEFAULT_LICENSE",
    "build_adapter_folder",
    "build_dataset_folder",
    "dataset_card_context",
    "load_decontamination_report",
    "load_run",
    "push_adapter",
    "push_dataset",
    "render_dataset_card",
    "render_model_card",
]

#: What an adapter repo needs: the adapter, its config and the tokenizer it was trained with.
ADAPTER_REPO_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)
DATASET_REPO_NAMES = ("README.md", "data", "images")
ADAPTER_REPO_NAMES = (*ADAPTER_REPO_FILES, "README.md", "recipe.yaml", "results.json", "images")


def render_model_card(context: Mapping[str, Any], template: str | Path | None = None) -> str:
    """Render a model card from its context (see :mod:`bioinstruct.training.model_card`)."""
    from bioinstruct.training.model_card import render_model_card as render

    return render(context, template)


def load_run(output_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The accepted rows and run.json of a generation run (a torn last row is ignored)."""
    from bioinstruct.generation.journal import INSTRUCTIONS, RUN_JSON, read_run_json
    from bioinstruct.jsonio import iter_jsonl

    folder = Path(output_dir)
    rows_path = folder / INSTRUCTIONS
    if not rows_path.is_file():
        raise DataError(
            f"{rows_path} not found: is {folder} the --output-dir of a `bioinstruct generate` run?"
        )
    rows = list(iter_jsonl(rows_path, tolerate_torn_tail=True))
    if not rows:
        raise DataError(f"{rows_path} holds no rows; nothing to push")
    return rows, read_run_json(folder / RUN_JSON)


def load_decontamination_report(path: str | Path) -> dict[str, Any]:
    """A report written by ``bioinstruct decontaminate --report`` (the schema of run.json's ``decontamination``)."""
    file = Path(path)
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(
            f"cannot read the decontamination report {str(file)!r}: {err.strerror or err}"
        ) from err
    except json.JSONDecodeError as err:
        raise DataError(f"{str(file)!r} is not valid JSON (line {err.lineno}: {err.msg})") from err
    if not isinstance(report, dict) or not isinstance(report.get("benchmarks"), dict):
        raise DataError(
            f"{str(file)!r} is not a decontamination report: it needs a 'benchmarks' object "
            "(write one with `bioinstruct decontaminate ... --report FILE`)"
        )
    return report


def build_dataset_folder(
    folder: str | Path,
    output_dir: str | Path,
    repo_id: str,
    *,
    card_template: str | Path | None = None,
    license: str = DEFAULT_LICENSE,
    decontamination_report: str | Path | None = None,
) -> int:
    """Write a dataset repo's files into ``folder`` (see the module docstring); returns the row count."""
    from bioinstruct.generation.diversity import diversity_summary
    from bioinstruct.plots import category_mix_png, nearest_neighbour_png

    rows, run = load_run(output_dir)
    report = load_decontamination_report(decontamination_report) if decontamination_report else None
    card = render_dataset_card(
        rows,
        run,
        repo_id,
        card_template,
        license=license,
        decontamination=report,
        decontamination_source=str(decontamination_report),
    )
    folder = Path(folder)
    data = folder / DATA_PATH_IN_REPO
    write_records(data, rows)
    category_mix_png(category_counts(rows), folder / CATEGORY_IMAGE)
    threshold = (run.get("config") or {}).get("similarity_threshold", 0.7)
    bins = diversity_summary(rows)["nearest_neighbour_rouge_l"]["bins"]
    nearest_neighbour_png(bins, folder / DIVERSITY_IMAGE, threshold)
    write_text_atomically(folder / "README.md", card)
    return len(rows)


def push_dataset(
    output_dir: str | Path,
    repo_id: str,
    *,
    private: bool = True,
    token: str | None = None,
    api: Any = None,
    card_template: str | Path | None = None,
    license: str = DEFAULT_LICENSE,
    decontamination_report: str | Path | None = None,
    dry_run: str | Path | None = None,
) -> str:
    """Push a generation run's rows with their dataset card; returns the commit URL.

    ``private``: create the repo private (an existing repo keeps its visibility). ``api`` defaults
    to ``huggingface_hub.HfApi(token=token)`` (token: HF_TOKEN or the cached login).
    ``decontamination_report``: a ``bioinstruct decontaminate --report`` file, shown in place of
    run.json's. ``dry_run``: write the folder that would be uploaded there instead, return its path.
    """

    def build(folder: Path) -> str:
        count = build_dataset_folder(
            folder,
            output_dir,
            repo_id,
            card_template=card_template,
            license=license,
            decontamination_report=decontamination_report,
        )
        return f"Add {count} bioinstruct rows with their dataset card"

    return publish(
        build,
        repo_id,
        repo_type="dataset",
        names=DATASET_REPO_NAMES,
        private=private,
        token=token,
        api=api,
        dry_run=dry_run,
    )


def build_adapter_folder(
    folder: str | Path,
    adapter_dir: str | Path,
    repo_id: str,
    *,
    results: str | Path | None = None,
    dataset_id: str | None = None,
) -> None:
    """Write an adapter repo's files into ``folder``: the verified adapter, tokenizer and model card."""
    from bioinstruct.training.model_card import CARD_CONTEXT_FILE, find_log_history, write_card_folder
    from bioinstruct.training.recipe import verify_adapter
    from bioinstruct.training.recipe_file import RECIPE_FILE

    source = Path(adapter_dir)
    if not (source / "adapter_config.json").is_file():
        raise ConfigError(
            f"{str(source)!r} holds no adapter (adapter_config.json); pass the output_dir of `bioinstruct train`"
        )
    context_file = source / CARD_CONTEXT_FILE
    if not context_file.is_file():
        raise ConfigError(
            f"{str(source)!r} has no {CARD_CONTEXT_FILE}: the model card is built from what `bioinstruct train` "
            "records there; push adapters trained with `bioinstruct train` or examples/sft.py"
        )
    try:
        context = json.loads(context_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{str(context_file)!r} is not valid JSON (line {err.lineno}: {err.msg})") from err
    verify_adapter(source)
    evaluation = None
    folder = Path(folder)
    if results is not None:
        from bioinstruct.cards.evaluation import RESULTS_FILE, evaluation_for_adapter

        evaluation, published = evaluation_for_adapter(results, source)
        write_text_atomically(
            folder / RESULTS_FILE, json.dumps(published, indent=2, ensure_ascii=False) + "\n"
        )
    for name in ADAPTER_REPO_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
    _publish_adapter_config(source / "adapter_config.json", folder / "adapter_config.json")
    # A public card names local folders (the base model, the data, the output) by their name only.
    # The pushed card's commands: the repo is known, the user's local adapter folder is not published.
    context.update(
        repo_or_path=repo_id, model_name=repo_id.split("/")[-1], hub_repo_id=repo_id, adapter_dir=None
    )
    context.update(
        base_model=_public_name(context, "base_model", "base_model_id"),
        dataset=_public_name(context, "dataset", "dataset_id"),
        recipe=public_copy(context.get("recipe")),
    )
    if dataset_id:
        context["dataset_id"] = dataset_id
    log_history, _ = find_log_history(source)
    write_card_folder(
        folder,
        context,
        log_history=log_history,
        recipe_text=_public_recipe(source / RECIPE_FILE),
        evaluation=evaluation,
    )


def _public_name(context: Mapping[str, Any], key: str, id_key: str) -> Any:
    """A Hub id as is; a local model or data path (trained without a Hub id for it) by its last name.

    A context saved by an older version may not record the Hub id: then only absolute paths are cut.
    """
    value = context.get(key)
    if id_key not in context:
        return public_path(value)
    if context[id_key] or not isinstance(value, str) or not value:
        return value
    return Path(value.rstrip("/\\")).name or value


def _public_recipe(path: Path) -> str | None:
    """recipe.yaml with local paths reduced to their names (``output_dir: /home/alice/runs/x`` -> ``x``)."""
    from bioinstruct.training.recipe_file import recipe_yaml

    if not path.is_file():
        return None
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise DataError(
            f"{str(path)!r} is not valid YAML ({type(err).__name__}); it is published with the card"
        ) from None
    if not isinstance(recipe, dict):
        raise DataError(
            f"{str(path)!r} must be a YAML mapping of training settings, got {type(recipe).__name__}"
        )
    return recipe_yaml(public_copy(recipe))


def _publish_adapter_config(source: Path, target: Path) -> None:
    """PEFT records the base model as given; a local folder is published by its name only."""
    try:
        config = json.loads(source.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DataError(f"{str(source)!r} is not valid JSON ({err})") from None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if public_path(base) != base:
        config["base_model_name_or_path"] = public_path(base)
        write_text_atomically(target, json.dumps(config, indent=2, sort_keys=True) + "\n")


def push_adapter(
    adapter_dir: str | Path,
    repo_id: str,
    *,
    private: bool = True,
    token: str | None = None,
    api: Any = None,
    results: str | Path | None = None,
    dataset_id: str | None = None,
    dry_run: str | Path | None = None,
) -> str:
    """Push a trained LoRA adapter (verified non-empty first) with its model card; returns the commit URL.

    ``results``: a ``results.json`` (or the evaluation output folder) holding this adapter's results;
    they become the card's results table and ``model-index``. ``dataset_id``: the Hub dataset the
    adapter was trained on, when training read a local copy (linked from the card). ``dry_run``:
    write the folder that would be uploaded there instead, return its path.
    """
    if dataset_id is not None and "/" not in dataset_id:
        raise ConfigError(f"dataset id {dataset_id!r} must look like 'namespace/name'")

    def build(folder: Path) -> str:
        build_adapter_folder(folder, adapter_dir, repo_id, results=results, dataset_id=dataset_id)
        return "Add bioinstruct LoRA adapter with its model card"

    return publish(
        build,
        repo_id,
        repo_type="model",
        names=ADAPTER_REPO_NAMES,
        private=private,
        token=token,
        api=api,
        dry_run=dry_run,
    )
