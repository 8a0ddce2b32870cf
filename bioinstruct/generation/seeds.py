"""Seed tasks: the hand-written examples every generation prompt starts from.

Why a validator: the teacher sees three seeds per prompt, and the similarity filter compares
every candidate against the seed pool. A duplicated seed, an empty output or a typo in a
category silently skews the whole generated set, and a bad line is much cheaper to fix before
a paid run than after. So every seed source (the 80 bundled seeds, a user's JSONL file, or a
list of dicts) goes through one loader that stops at the first problem with the file and
line number in the message.

Format: one JSON object per line with ``id``, ``instruction``, ``input`` and ``output``, plus
``category`` (one of :data:`CATEGORIES`). Decisions, so users know what to expect:

- ``input`` may be the empty string (general questions) and may be omitted (read as ``""``);
  if present it must be a string.
- ``category`` is required in the bundled file (its data card counts them) but optional in a
  user's seeds: missing or ``null`` is kept as ``None``. If given, it must be a known category.
- Extra keys are allowed in user files and dropped; returned tasks always have exactly the keys
  ``id, instruction, input, output, category``.
- Blank lines are skipped; line numbers in messages are 1-based physical lines of the file.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.jsonio import jsonl_values
from bioinstruct.schemas import CATEGORIES

__all__ = ["CATEGORIES", "BUNDLED_SEEDS_NAME", "load_seed_tasks", "seed_set_hash"]

#: The task categories of the paper's generated data (question answering, information
#: extraction, text generation, everything else).

#: File name of the bundled seeds inside the ``bioinstruct.generation`` package.
BUNDLED_SEEDS_NAME = "seed_tasks.jsonl"

_REQUIRED_TEXT = ("id", "instruction", "output")
_KEYS = ("id", "instruction", "input", "output", "category")


def load_seed_tasks(
    source: str | Path | list[dict] | None = None, *, require_category: bool | None = None
) -> list[dict]:
    """Load and validate seed tasks.

    Args:
        source: ``None`` for the 80 bundled seeds; a path to a JSONL file; or a list of dicts
            (e.g. built in a notebook), validated the same way with 1-based item numbers.
        require_category: whether every task must carry a category. Default: required for the
            bundled seeds, optional otherwise.

    Returns:
        Tasks as dicts with exactly the keys ``id, instruction, input, output, category``
        (``category`` may be ``None`` for user seeds), in file order.

    Raises:
        DataError: the file is missing or unreadable, a line is not a JSON object, a field is
            missing, empty or not a string, a category is unknown, or an id or instruction is
            repeated. The message names the file and line (both lines for duplicates).
    """
    if source is None:
        label = f"bundled bioinstruct/generation/{BUNDLED_SEEDS_NAME}"
        text = _read_bundled()
        records = _parse_jsonl(text, label)
        required = True if require_category is None else require_category
        where = "line"
    elif isinstance(source, str | Path):
        path = Path(source)
        label = str(path)
        records = _parse_jsonl(_read_path(path), label)
        required = bool(require_category)
        where = "line"
    elif isinstance(source, list):
        label = "seed task list"
        records = list(enumerate(source, start=1))
        required = bool(require_category)
        where = "item"
    else:
        raise DataError(
            f"seed_tasks must be None, a path to a JSONL file or a list of dicts, got {type(source).__name__}"
        )
    if not records:
        raise DataError(f"{label}: contains no seed tasks; expected one JSON object per line")
    tasks = [_validate(record, f"{label}, {where} {number}", required) for number, record in records]
    _check_unique(tasks, [number for number, _ in records], label, where)
    return tasks


def seed_set_hash(tasks: Iterable[dict]) -> str:
    """SHA-256 of the seed set, for provenance in data cards and ``run.json``.

    Hashes a canonical JSON (sorted keys, no whitespace, UTF-8) of the tasks' five fields in
    order, so the same seeds give the same hash on every machine and Python version, and any
    edit (or a reordering, which changes which seeds a fixed random seed samples) changes it.
    """
    canonical = [{key: task.get(key, "" if key == "input" else None) for key in _KEYS} for task in tasks]
    payload = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_bundled() -> str:
    resource = resources.files("bioinstruct.generation") / BUNDLED_SEEDS_NAME
    try:
        return resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"bundled seed file {BUNDLED_SEEDS_NAME} cannot be read ({exc}); is the bioinstruct install complete?"
        ) from exc


def _read_path(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: seed file not found; expected a JSONL file of seed tasks")
    if not path.is_file():
        raise DataError(f"{path}: is not a file; expected a JSONL file of seed tasks")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from exc


def _parse_jsonl(text: str, label: str) -> list[tuple[int, Any]]:
    # newline=None: lines end where a file read in text mode ends them (\n, \r\n, \r), not at
    # the Unicode separators str.splitlines() also splits on (U+2028 is legal inside a JSON string).
    lines = io.StringIO(text, newline=None)
    try:
        return list(jsonl_values(lines, lambda number: f"{label}, line {number}"))
    except DataError as exc:
        raise DataError(f"{exc}; expected one JSON object per line") from None


def _validate(record: Any, where: str, require_category: bool) -> dict:
    if not isinstance(record, dict):
        raise DataError(
            f"{where}: expected a JSON object with id, instruction, input, output, category; "
            f"got {type(record).__name__}"
        )
    task: dict = {}
    for key in _REQUIRED_TEXT:
        if key not in record or record[key] is None:
            raise DataError(f"{where}: missing required field {key!r}")
        value = record[key]
        if not isinstance(value, str):
            raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
        if not value.strip():
            raise DataError(f"{where}: field {key!r} is empty")
        task[key] = value
    value = record.get("input", "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DataError(f"{where}: field 'input' must be a string (may be empty), got {type(value).__name__}")
    task["input"] = value
    task["category"] = _category(record.get("category"), where, require_category)
    return {key: task[key] for key in _KEYS}


def _category(value: Any, where: str, required: bool) -> str | None:
    allowed = ", ".join(CATEGORIES)
    if value is None:
        if required:
            raise DataError(f"{where}: missing required field 'category' (one of {allowed})")
        return None
    if value not in CATEGORIES:
        raise DataError(f"{where}: unknown category {value!r}; expected one of {allowed}")
    return value


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _check_unique(tasks: list[dict], numbers: list[int], label: str, where: str) -> None:
    seen_ids: dict[str, int] = {}
    seen_instructions: dict[str, int] = {}
    for task, number in zip(tasks, numbers, strict=True):
        first = seen_ids.setdefault(task["id"], number)
        if first != number:
            raise DataError(f"{label}: duplicate id {task['id']!r} on {where}s {first} and {number}")
        key = _normalise(task["instruction"])
        first = seen_instructions.setdefault(key, number)
        if first != number:
            raise DataError(
                f"{label}: duplicate instruction on {where}s {first} and {number} "
                f"(compared ignoring case and whitespace): {task['instruction'][:80]!r}"
            )
