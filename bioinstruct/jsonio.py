"""JSON / JSONL record files: the one place that reads and writes datasets on disk.

Why one module: generation, dedup, training and evaluation all read instruction files that users
bring in two shapes (Alpaca's JSON list, and JSONL), and they all write files that a killed run
must not leave half-written. Every user mistake becomes a ``DataError`` naming the file and, for
JSONL, the line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from bioinstruct.errors import DataError

# A JSON object wrapping the list of records under one of these keys is accepted too.
_LIST_KEYS = ("data", "rows", "instances")


def is_jsonl(path: str | os.PathLike) -> bool:
    """JSONL by suffix (``.jsonl``, ``.ndjson``); anything else is treated as JSON."""
    return Path(path).suffix.lower() in (".jsonl", ".ndjson")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")


def _lines(fh: IO[str], path: Path) -> Iterator[str]:
    try:
        yield from fh
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def iter_jsonl(path: str | os.PathLike, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; blank lines are skipped.

    ``tolerate_torn_tail``: a last line without its newline that does not parse (a writer killed
    mid-line) is skipped instead of raising; resumable writers read their own journal this way.
    """
    path = Path(path)
    _check_file(path)
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        for line_no, line in enumerate(_lines(fh, path), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                if tolerate_torn_tail and not line.endswith("\n"):  # only the last line can lack one
                    return
                raise DataError(f"{path}:{line_no}: invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
            yield record


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a dataset of objects: JSONL (by suffix, or content), a JSON list (Alpaca format), or a
    JSON object holding the list under ``"data"``, ``"rows"`` or ``"instances"``."""
    path = Path(path)
    _check_file(path)
    if is_jsonl(path):
        return list(iter_jsonl(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if text.lstrip().startswith("{") and err.msg == "Extra data":  # JSONL under a .json name
            return list(iter_jsonl(path))
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
    if isinstance(data, dict):
        key = next((k for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise DataError(
                f"{path}: expected a JSON list of objects or an object with a list under {_LIST_KEYS}"
            )
        data = data[key]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    for i, record in enumerate(data):
        if not isinstance(record, dict):
            raise DataError(f"{path}: item {i} is a {type(record).__name__}, expected a JSON object")
    return data


def readable_like_open(path: str | os.PathLike) -> None:
    """Give a temp file the permissions ``open()`` would have given the final file (0666 minus umask).

    ``mkstemp`` creates files readable by their owner only; an atomic write renames such a file
    into place, which would leave datasets and reports unreadable to colleagues on a shared machine.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_records(path: str | os.PathLike, rows: Iterable[dict[str, Any]], jsonl: bool | None = None) -> Path:
    """Write ``rows`` atomically: JSONL for ``.jsonl``/``.ndjson`` (or ``jsonl=True``), else an
    indented JSON list.

    The file appears complete or not at all (temp file in the same folder, fsync, ``os.replace``),
    so an interrupted run never leaves a truncated dataset behind."""
    if is_jsonl(path) if jsonl is None else jsonl:
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        text = json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"
    return write_text_atomically(path, text)


def append_jsonl(fh: IO[str], row: dict[str, Any]) -> None:
    """Append one JSON line and make it durable (flush + fsync) before returning."""
    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``: a kill leaves
    the old file or the new one, never half of one. Every output that must not be torn uses this."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        readable_like_open(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
