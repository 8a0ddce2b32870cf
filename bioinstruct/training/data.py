"""Load instruction data for training, from wherever users keep it, with clear errors.

Why: users point the recipe at a Hub id, a JSON/JSONL export of another tool (Alpaca lists),
a ``save_to_disk`` folder, or the output folder of ``bioinstruct generate``. Each of those
fails differently deep inside ``datasets``; here every failure becomes one message naming
the source and what is expected, before a model is loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

from bioinstruct.errors import ConfigError, DataError
from bioinstruct.jsonio import read_records
from bioinstruct.schemas import CATEGORIES

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("instruction", "output")
_LOCAL_SUFFIXES = (".json", ".jsonl")


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.endswith(_LOCAL_SUFFIXES) or Path(name).exists()


def load_instruction_splits(
    name: str | None,
    *,
    config: str | None = None,
    train_split: str = "train",
    test_split: str = "test",
) -> tuple[Dataset, Dataset | None]:
    """Return ``(train, test_or_None)`` from a Hub id, a local file or folder."""
    if not name:
        raise ConfigError("no training data: set `dataset_name` (a Hub id, a JSON/JSONL file or a folder)")
    if not _looks_local(name):
        try:
            loaded = load_dataset(name, config)
        except Exception as err:  # noqa: BLE001 - datasets raises many types; one clear message instead
            raise DataError(
                f"could not load dataset {name!r} from the Hugging Face Hub ({type(err).__name__}); check the id, "
                "your network/HF_TOKEN, or pass a local JSON/JSONL file"
            ) from err
        return _pick_splits(loaded, name, train_split, test_split)
    path = Path(name).expanduser()
    if not path.exists():
        raise DataError(f"training data {str(path)!r} does not exist")
    if path.is_dir():
        if (path / "instructions.jsonl").is_file():  # a `bioinstruct generate` output folder
            return Dataset.from_list(read_records(path / "instructions.jsonl")), None
        try:
            loaded = load_from_disk(str(path))
        except Exception as err:  # noqa: BLE001
            raise DataError(
                f"{str(path)!r} is neither a `save_to_disk` dataset folder nor a `bioinstruct generate` output "
                "folder (no instructions.jsonl)"
            ) from err
        return _pick_splits(loaded, str(path), train_split, test_split)
    rows = read_records(path)
    if not rows:
        raise DataError(f"training data {str(path)!r} holds no rows")
    return Dataset.from_list(rows), None


def _pick_splits(loaded, source: str, train_split: str, test_split: str) -> tuple[Dataset, Dataset | None]:
    if isinstance(loaded, Dataset):
        return loaded, None
    if not isinstance(loaded, DatasetDict) or train_split not in loaded:
        available = ", ".join(loaded) if isinstance(loaded, DatasetDict) else type(loaded).__name__
        raise DataError(f"dataset {source!r} has no split {train_split!r} (available: {available})")
    return loaded[train_split], loaded.get(test_split)


def validate_rows(dataset: Dataset, source: str) -> None:
    """Every row needs a non-empty ``instruction`` and ``output``; say which rows do not."""
    if len(dataset) == 0:
        raise DataError(f"training data {source!r} is empty")
    missing = [name for name in REQUIRED_FIELDS if name not in dataset.column_names]
    if missing:
        raise DataError(
            f"training data {source!r} lacks the field(s) {', '.join(missing)}; rows need `instruction` and "
            f"`output` (and optionally `input`, `category`); found columns: {', '.join(dataset.column_names)}"
        )
    bad = [
        index
        for index, row in enumerate(dataset.select_columns(list(REQUIRED_FIELDS)))
        if not all(isinstance(row[name], str) and row[name].strip() for name in REQUIRED_FIELDS)
    ]
    if bad:
        shown = ", ".join(str(index) for index in bad[:5])
        raise DataError(
            f"training data {source!r}: {len(bad)} row(s) have an empty or non-text `instruction`/`output` "
            f"(row index {shown}{', ...' if len(bad) > 5 else ''})"
        )


def filter_categories(dataset: Dataset, categories: str | None, source: str) -> Dataset:
    """Keep only the rows of the given categories (the paper's QA / IE / GEN ablations)."""
    if not categories:
        return dataset
    wanted = {item.strip().upper() for item in categories.split(",") if item.strip()}
    unknown = sorted(wanted - set(CATEGORIES))
    if unknown:
        raise ConfigError(
            f"unknown categories {', '.join(unknown)}; expected some of {', '.join(CATEGORIES)}"
        )
    if "category" not in dataset.column_names:
        raise DataError(f"`categories` was set but training data {source!r} has no `category` column")
    kept = dataset.filter(lambda row: (row["category"] or "").upper() in wanted, desc="Filtering categories")
    if len(kept) == 0:
        raise DataError(f"no rows of categories {', '.join(sorted(wanted))} in training data {source!r}")
    logger.info("category filter %s kept %d of %d rows", ",".join(sorted(wanted)), len(kept), len(dataset))
    return kept


def hold_out(dataset: Dataset, size: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Split off ``size`` rows (>= 1) or a fraction (< 1) as the evaluation set."""
    if not size:
        return dataset, None
    if size < 0 or (size >= 1 and int(size) >= len(dataset)):
        raise ConfigError(f"eval_split_size={size} is not possible with {len(dataset)} training rows")
    split = dataset.train_test_split(test_size=int(size) if size >= 1 else size, seed=seed)
    return split["train"], split["test"]
