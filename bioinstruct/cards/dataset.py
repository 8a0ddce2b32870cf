"""What the dataset card of a generation run shows, and rendering it.

Why so much provenance: synthetic instruction data is only usable when a reader can tell how it was
made: which teacher, which prompt (its hash), which seed set, which filters removed what, how much
it cost, and whether it overlaps the benchmarks it will be evaluated on. Everything comes from
``run.json`` (never secrets: the endpoint is shown without any credentials or query string) and
from the rows themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bioinstruct
from bioinstruct.card_templates import render_card
from bioinstruct.cards.evaluation import public_copy, public_source
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.generation.diversity import diversity_summary
from bioinstruct.generation.review import review_distribution
from bioinstruct.resources import data_path
from bioinstruct.schemas import CATEGORIES
from bioinstruct.secrets import SECRET_FIELD, public_url

DATASET_CARD_TEMPLATE = "dataset_card.md.jinja"
DATA_PATH_IN_REPO = "data/train.jsonl"
CATEGORY_IMAGE = "images/category_mix.png"
DIVERSITY_IMAGE = "images/nearest_neighbour.png"
#: The default licence: the rows were written by a teacher model under its provider's terms.
DEFAULT_LICENSE = "other"
TEACHER_TERMS_LICENSE_NAME = "teacher-model-terms"
#: run.json ``config`` keys the bundled template shows; absent ones (older runs) read "not recorded".
CONFIG_KEYS = (
    "teacher_model",
    "base_url",
    "seed_set_hash",
    "num_seed_tasks",
    "num_prompt_seeds",
    "tasks_per_prompt",
    "similarity_threshold",
    "similarity_tokenizer",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "batch_api",
    "json_mode",
    "prompt_template",
    "prompt_template_hash",
    "label_template",
    "label_template_hash",
    "decontaminate",
    "max_cost_usd",
)
_COUNTER_KEYS = (
    "kept",
    "candidates",
    "rejected",
    "surplus",
    "truncated_items",
    "generation_requests",
    "failed_requests",
    "label_requests",
    "prompt_tokens",
    "completion_tokens",
)
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+\-]*$")
EXAMPLES_SHOWN = 3


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


def check_license(license_id: str) -> str:
    if not isinstance(license_id, str) or not _LICENSE_ID.match(license_id):
        raise ConfigError(
            f"license {license_id!r} is not a Hub licence id: use a lowercase id such as 'other', "
            "'cc-by-nc-4.0' or 'apache-2.0' (https://huggingface.co/docs/hub/repositories-licenses)"
        )
    return license_id


def public_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """run.json ``config`` as the card may show it: credential-free endpoint, no key-like fields, and
    local files (a custom prompt template) by their name only."""
    shown = {key: public_copy(value) for key, value in config.items() if not SECRET_FIELD.search(str(key))}
    for key in CONFIG_KEYS:
        shown.setdefault(key, None)
    shown["base_url"] = public_url(shown["base_url"])
    return shown


def decontamination_context(report: Mapping[str, Any] | None, source: str) -> dict[str, Any] | None:
    """The decontamination section: parameters, per-benchmark counts, a few matched ids (no item text).

    Why no text: the examples quote benchmark test items; publishing them in a card would spread
    the test set the check is meant to protect. Row and item ids with the score identify them.
    """
    if report is None:
        return None
    if not isinstance(report, Mapping) or not isinstance(report.get("benchmarks"), Mapping):
        raise DataError(f"{source}: a decontamination report needs a 'benchmarks' object (name -> counts)")
    benchmarks = []
    for name, entry in report["benchmarks"].items():
        if not isinstance(entry, Mapping):
            raise DataError(f"{source}: decontamination entry {name!r} must be an object, got {entry!r}")
        by_method = dict(entry.get("by_method") or {})
        examples = [
            {
                "row_id": example.get("row_id"),
                "item_id": example.get("item_id"),
                "method": example.get("method"),
                "score": example.get("score"),
            }
            for example in list(entry.get("examples") or [])[:EXAMPLES_SHOWN]
            if isinstance(example, Mapping)
        ]
        benchmarks.append(
            {
                "name": str(name),
                "source": public_source(entry.get("source")),
                "test_items": int(entry.get("test_items") or 0),
                "rows_flagged": int(entry.get("rows_flagged") or 0),
                "ngram": int(by_method.get("ngram") or 0),
                "rouge_l": int(by_method.get("rouge_l") or 0),
                "examples": examples,
            }
        )
    return {
        "ngram": report.get("ngram"),
        "rouge_threshold": report.get("rouge_threshold"),
        "tokenizer": report.get("tokenizer"),
        "action": report.get("action", "flag"),
        "rows_checked": int(report.get("rows_checked") or 0),
        "rows_flagged": int(report.get("rows_flagged") or 0),
        "benchmarks": benchmarks,
        "skipped": {str(name): str(reason) for name, reason in (report.get("skipped") or {}).items()},
    }


def category_counts(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(category, rows) in the paper's order, then any other labels alphabetically."""
    by_category = Counter(str(row.get("category")) for row in rows)
    counts = [(name, by_category.pop(name, 0)) for name in CATEGORIES]
    return counts + sorted(by_category.items())


def dataset_card_context(
    rows: list[dict[str, Any]],
    run: Mapping[str, Any],
    repo_id: str,
    *,
    license: str = DEFAULT_LICENSE,
    decontamination: Mapping[str, Any] | None = None,
    decontamination_source: str = "run.json",
) -> dict[str, Any]:
    """Everything the card template shows, computed from the rows and run.json.

    ``decontamination`` (a report of ``bioinstruct decontaminate --report``) overrides run.json's.
    """
    license = check_license(license)
    counters = dict(run.get("counters") or {})
    for key in _COUNTER_KEYS:
        counters.setdefault(key, 0)
    filters = sorted((counters.get("rejected_by_filter") or {}).items(), key=lambda item: (-item[1], item[0]))
    cost = counters.get("cost_usd")
    report = decontamination if decontamination is not None else run.get("decontamination")
    source = decontamination_source if decontamination is not None else "run.json 'decontamination'"
    return {
        "repo_id": repo_id,
        "pretty_name": repo_id.split("/")[-1],
        "num_rows": len(rows),
        "size_category": size_category(len(rows)),
        "data_path": DATA_PATH_IN_REPO,
        "category_image": CATEGORY_IMAGE,
        "bioinstruct_version": bioinstruct.__version__,
        "config": public_config(run.get("config") or {}),
        "counters": counters,
        "categories": category_counts(rows),
        "filters": filters,
        "cost": "unknown" if cost is None else f"${cost:,.2f}",
        "license": license,
        "license_name": TEACHER_TERMS_LICENSE_NAME if license == DEFAULT_LICENSE else None,
        "decontamination": decontamination_context(report, source),
        "diversity": diversity_summary(rows),
        "diversity_image": DIVERSITY_IMAGE,
        "similarity_threshold": (run.get("config") or {}).get("similarity_threshold", 0.7),
        **quality_context(rows, run.get("quality")),
    }


def quality_context(rows: list[dict[str, Any]], quality: Mapping[str, Any] | None) -> dict[str, Any]:
    """The quality-gate section, from the rows (which may be fewer than the run's) and run.json's settings."""
    kinds = Counter(found["kind"] for row in rows for found in row.get("identifiers") or [])
    return {
        "quality": quality,
        "review_scores": review_distribution(rows),
        "identifier_rows": sum(bool(row.get("identifiers")) for row in rows),
        "identifier_kinds": sorted(kinds.items()),
    }


def dataset_card_data(context: Mapping[str, Any]) -> Any:
    """The YAML front matter, built by huggingface_hub's ``DatasetCardData``."""
    from huggingface_hub import DatasetCardData

    extra = {"license_name": context["license_name"]} if context["license_name"] else {}
    return DatasetCardData(
        language=["en"],
        license=context["license"],
        pretty_name=context["pretty_name"],
        size_categories=[context["size_category"]],
        task_categories=["text-generation", "question-answering"],
        tags=["bioinstruct", "biomedical", "clinical", "instruction-tuning", "self-instruct", "synthetic"],
        configs=[
            {"config_name": "default", "data_files": [{"split": "train", "path": context["data_path"]}]}
        ],
        **extra,
    )


def render_dataset_card(
    rows: list[dict[str, Any]],
    run: Mapping[str, Any],
    repo_id: str,
    template: str | Path | None = None,
    *,
    license: str = DEFAULT_LICENSE,
    decontamination: Mapping[str, Any] | None = None,
    decontamination_source: str = "run.json",
) -> str:
    """``DatasetCard.from_template`` of ``data_cards/dataset_card.md.jinja`` (or ``template``), as text."""
    from huggingface_hub import DatasetCard

    path = Path(template) if template else data_path("data_cards", DATASET_CARD_TEMPLATE)
    context = dataset_card_context(
        rows,
        run,
        repo_id,
        license=license,
        decontamination=decontamination,
        decontamination_source=decontamination_source,
    )
    card_data = dataset_card_data(context)
    expected = {"license": context["license"], "configs": card_data.configs}
    return render_card(DatasetCard, card_data, path, context, expected=expected)
