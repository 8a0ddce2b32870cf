"""Push generated datasets (and, via the same commit helper, trained adapters) to the Hugging Face Hub.

Why one commit with the data and a rendered card: a dataset without its card loses the
provenance that makes synthetic data usable (teacher, seed set, filter statistics, cost), and a
single commit means a failed push never leaves a repo with data but no card. The token is only
ever handed to ``HfApi``; it is never logged, printed or written to the card.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

import bioinstruct
from bioinstruct.errors import BioInstructError, ConfigError, DataError
from bioinstruct.resources import data_path

logger = logging.getLogger(__name__)

DATASET_CARD_TEMPLATE = "dataset_card.md.jinja"
DATA_PATH_IN_REPO = "data/train.jsonl"
CATEGORY_ORDER = ("QA", "IE", "GEN", "OTHER")


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


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


def dataset_card_context(rows: list[dict[str, Any]], run: Mapping[str, Any], repo_id: str) -> dict[str, Any]:
    """Everything the card template shows, computed from the rows and run.json."""
    counters = dict(run.get("counters") or {})
    by_category = Counter(str(row.get("category")) for row in rows)
    categories = [(name, by_category.pop(name, 0)) for name in CATEGORY_ORDER]
    categories += sorted(by_category.items())
    filters = sorted((counters.get("rejected_by_filter") or {}).items(), key=lambda item: (-item[1], item[0]))
    cost = counters.get("cost_usd")
    for key in (
        "candidates",
        "surplus",
        "truncated_items",
        "generation_requests",
        "failed_requests",
        "label_requests",
        "prompt_tokens",
        "completion_tokens",
    ):
        counters.setdefault(key, 0)
    return {
        "repo_id": repo_id,
        "pretty_name": repo_id.split("/")[-1],
        "num_rows": len(rows),
        "size_category": _size_category(len(rows)),
        "data_path": DATA_PATH_IN_REPO,
        "bioinstruct_version": bioinstruct.__version__,
        "config": dict(run.get("config") or {}),
        "counters": counters,
        "categories": categories,
        "filters": filters,
        "cost": "unknown"
        if cost is None
        else f"${cost:,.2f} (list prices; the provider's bill is authoritative)",
    }


def render_dataset_card(
    rows: list[dict[str, Any]], run: Mapping[str, Any], repo_id: str, template: str | Path | None = None
) -> str:
    """Render ``data_cards/dataset_card.md.jinja`` (or ``template``) for this dataset."""
    path = Path(template) if template else data_path("data_cards", DATASET_CARD_TEMPLATE)
    env = jinja2.Environment(
        undefined=jinja2.ChainableUndefined, keep_trailing_newline=True, autoescape=False
    )
    return env.from_string(path.read_text(encoding="utf-8")).render(
        **dataset_card_context(rows, run, repo_id)
    )


def commit_files(
    api: Any, repo_id: str, files: Mapping[str, bytes], *, repo_type: str, private: bool, message: str
) -> str:
    """Create ``repo_id`` if needed and add ``files`` ({path in repo: bytes}) in one commit; return its URL.

    Shared by every ``push`` target (datasets here; adapters reuse it with ``repo_type="model"``).
    """
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    try:  # huggingface_hub's HTTP stack: its connection errors are not OSErrors
        from httpx2 import TransportError as _TransportError
    except ImportError:  # pragma: no cover - another huggingface_hub stack
        _TransportError = OSError

    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        operations = [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in files.items()
        ]
        info = api.create_commit(repo_id, operations, commit_message=message, repo_type=repo_type)
    except LocalTokenNotFoundError:
        raise ConfigError("no Hugging Face token: run `hf auth login` or set HF_TOKEN") from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        raise BioInstructError(
            f"pushing to {repo_type} repo {repo_id!r} failed (HTTP {status}): {str(err).splitlines()[0]}"
        ) from None
    except (OSError, _TransportError) as err:  # no network, HF_HUB_OFFLINE=1, DNS, TLS
        detail = (str(err).splitlines() or [type(err).__name__])[0]
        raise BioInstructError(
            f"pushing to {repo_type} repo {repo_id!r} failed: cannot reach the Hub ({detail})"
        ) from None
    return str(getattr(info, "commit_url", None) or getattr(info, "repo_url", "") or repo_id)


def push_dataset(
    output_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    api: Any = None,
    card_template: str | Path | None = None,
) -> str:
    """Push a generation run's rows (``data/train.jsonl``) and its rendered card (``README.md``).

    ``api`` defaults to ``huggingface_hub.HfApi(token=token)`` (token: HF_TOKEN or the cached login).
    """
    if "/" not in repo_id:
        raise ConfigError(f"repo_id {repo_id!r} must look like 'namespace/name'")
    rows, run = load_run(output_dir)
    card = render_dataset_card(rows, run, repo_id, card_template)
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    url = commit_files(
        api,
        repo_id,
        {"README.md": card.encode("utf-8"), DATA_PATH_IN_REPO: data},
        repo_type="dataset",
        private=private,
        message=f"Add {len(rows)} bioinstruct rows and card",
    )
    logger.info("pushed %d rows to dataset %s", len(rows), repo_id)
    return url


#: What an adapter repo needs: the adapter, its config and the tokenizer it was trained with.
ADAPTER_REPO_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "chat_template.jinja",
)


def push_adapter(
    adapter_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    api: Any = None,
) -> str:
    """Push a trained LoRA adapter (verified non-empty first) with its model card, re-rendered for ``repo_id``."""
    from bioinstruct.training.model_card import CARD_CONTEXT_FILE, render_model_card
    from bioinstruct.training.recipe import verify_adapter

    if "/" not in repo_id:
        raise ConfigError(f"repo_id {repo_id!r} must look like 'namespace/name'")
    folder = Path(adapter_dir)
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(
            f"{str(folder)!r} holds no adapter (adapter_config.json); pass the training output_dir"
        )
    verify_adapter(folder)
    files = {name: (folder / name).read_bytes() for name in ADAPTER_REPO_FILES if (folder / name).is_file()}
    context_file = folder / CARD_CONTEXT_FILE
    if context_file.is_file():
        context = json.loads(context_file.read_text(encoding="utf-8"))
        context.update(repo_or_path=repo_id, model_name=repo_id.split("/")[-1])
        files["README.md"] = render_model_card(context).encode("utf-8")
    elif (folder / "README.md").is_file():
        files["README.md"] = (folder / "README.md").read_bytes()
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    url = commit_files(
        api, repo_id, files, repo_type="model", private=private, message="Add bioinstruct LoRA adapter"
    )
    logger.info("pushed adapter %s to %s", folder, repo_id)
    return url
