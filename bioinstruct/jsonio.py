"""JSON / JSONL record files: the one place that reads and writes datasets on disk.

Why one module: generation, dedup, training and evaluation all read instruction files that users
bring in two shapes (Alpaca's JSON list, and JSONL), and they all write files that a killed run
must not leave half-written. Every user mistake becomes a ``DataError`` naming the file and, for
JSONL, the line.

Three pieces, each used by every stage:

- one JSONL reader (:func:`jsonl_values` for lines from anywhere, :func:`iter_jsonl` for a file);
- one append-only log (:class:`AppendLog`: the generation journal and rows; :class:`KeyedLog`:
  the prediction and judge caches), one durable line per record;
- one atomic writer (:func:`write_text_atomically`, and :func:`write_records` over it).

The rule for logs: a record exists once its line *and its newline* are on disk. Bytes after the
last newline are the remains of a write killed mid-line; they are cut off before anything is
appended (:func:`cut_torn_tail`), so a torn line never swallows the next record.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from bioinstruct.errors import DataError

logger = logging.getLogger(__name__)

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


def _loads(line: str) -> Any:
    """orjson's parser (3x faster: a 100k-row journal is 190 MB), with the standard library's for
    what orjson refuses but ``json.dumps`` may have written (NaN, integers beyond 64 bits) and for
    the error message of a line that is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def jsonl_values(
    lines: Iterable[str],
    where: Callable[[int], str],
    *,
    tolerate_torn_tail: bool = False,
    skipped: list[int] | None = None,
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of JSONL ``lines`` (1-based physical lines).

    A line that is not JSON raises :class:`DataError` at ``where(line number)``, unless
    ``tolerate_torn_tail`` and it is the last line and lacks its newline (a writer killed
    mid-line: skipped), or ``skipped`` is a list (the line's number is appended to it and the
    line is skipped: caches, where a lost line only costs recomputing it). Values may be any JSON;
    the callers check their shape with their own messages.
    """
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():  # not strip(): it would copy every (long) line
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as err:
            if skipped is not None:
                skipped.append(number)
                continue
            if tolerate_torn_tail and not line.endswith("\n"):  # only the last line can lack one
                return
            raise DataError(f"{where(number)}: invalid JSON ({err.msg} at column {err.colno})") from None
        yield number, value


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file is loaded into many small objects.

    Why: loading a 100k-row journal creates millions of dicts that are never garbage, and the
    collector's passes over them took half of the load time (8.9 s -> 5.2 s without them). On the
    way out the loaded objects are frozen (``gc.freeze``): later collections skip them instead of
    walking a 100k-row pool again (refcounting still frees them when they go)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def iter_jsonl(path: str | os.PathLike, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; blank lines are skipped.

    ``tolerate_torn_tail``: a last line without its newline that does not parse (a writer killed
    mid-line) is skipped instead of raising; resumable writers read their own journal this way.
    """
    path = Path(path)
    _check_file(path)
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        lines = _lines(fh, path)
        for line_no, record in jsonl_values(
            lines, lambda n: f"{path}:{n}", tolerate_torn_tail=tolerate_torn_tail
        ):
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


def cut_torn_tail(path: str | os.PathLike) -> bool:
    """Cut off the bytes after the last newline of ``path`` (the remains of a line whose write was
    killed), so the next append starts on a clean line. Returns whether a non-blank tail was cut.

    Even a complete JSON object without its newline is cut: its write had not returned, so nothing
    relied on it. The cut is at byte level, so a tail torn inside a UTF-8 character goes too.
    """
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as handle:  # read-only until there is something to cut
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return False
        handle.seek(end - 1)
        if handle.read(1) == b"\n":  # the usual case, decided by the last byte alone
            return False
        keep, tail = end, b""
        while keep > 0:
            start = max(0, keep - 65536)
            handle.seek(start)
            chunk = handle.read(keep - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep, tail = start + newline + 1, chunk[newline + 1 :] + tail
                break
            keep, tail = start, chunk + tail
    with path.open("rb+") as handle:
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return bool(tail.strip())


class AppendLog:
    """An open JSONL file that is only ever appended to, one durable line per record.

    Opening it cuts a torn last line (:func:`cut_torn_tail`); :meth:`append` and :meth:`extend`
    return once their lines are on disk (flush + fsync) and are safe to call from several threads.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        cut_torn_tail(self.path)
        self._lock = threading.Lock()
        self._handle: IO[str] | None = self.path.open("a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        self.extend([record])

    def extend(self, records: Iterable[dict[str, Any]]) -> None:
        """Append several records with one fsync (each still a whole line of its own)."""
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        with self._lock:
            if self._handle is None:
                raise ValueError(f"{self.path} is closed")
            self._handle.write(text)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class KeyedLog:
    """``key -> value`` kept in memory and in an append-only JSONL file (a cache that survives kills).

    Each line is ``{key_field: key, value_field: value}``, or with ``value_field=None``
    ``{key_field: key, **value}`` (the value is then the whole line, key included). Loading skips
    lines that cannot be used (a torn tail, which is also cut off; a line an older writer glued onto
    a torn one; a line without the fields) and says how many in ONE warning: their entries are
    simply computed again. A later line wins over an earlier one with the same key. ``path=None``
    keeps the entries in memory only. :meth:`put` and :meth:`update` are thread-safe and durable.
    """

    def __init__(
        self,
        path: str | os.PathLike | None,
        *,
        key_field: str = "key",
        value_field: str | None = None,
        what: str = "cache",
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.key_field, self.value_field, self.what = key_field, value_field, what
        self.entries: dict[str, Any] = {}
        #: lines skipped when loading (torn or unreadable); summarised in one warning
        self.skipped = 0
        self._lock = threading.Lock()
        if self.path is not None and self.path.is_file():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            torn = cut_torn_tail(path)
        except OSError:  # a read-only cache still serves; its torn tail is skipped below
            torn = False
        bad: list[int] = []
        # errors="replace": bytes an older writer left torn mid-character spoil only their own line
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, record in jsonl_values(handle, lambda n: f"{path}:{n}", skipped=bad):
                entry = self._entry(record)
                if entry is None:
                    bad.append(number)
                else:
                    self.entries[entry[0]] = entry[1]
        self.skipped = len(bad) + torn
        if self.skipped:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            parts = [f"line{'s' if len(bad) > 1 else ''} {shown}"] if bad else []
            parts += ["a torn last line"] if torn else []
            logger.warning(
                "%s %s: skipped %d unreadable line%s (%s), left by interrupted writes; their entries are "
                "computed again",
                self.what,
                path,
                self.skipped,
                "" if self.skipped == 1 else "s",
                " and ".join(parts),
            )

    def _entry(self, record: Any) -> tuple[str, Any] | None:
        if not isinstance(record, dict) or not isinstance(record.get(self.key_field), str):
            return None
        if self.value_field is None:
            return record[self.key_field], record
        if self.value_field not in record:
            return None
        return record[self.key_field], record[self.value_field]

    def _line(self, key: str, value: Any) -> dict[str, Any]:
        if self.value_field is None:
            return {self.key_field: key, **value}
        return {self.key_field: key, self.value_field: value}

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, values: Mapping[str, Any]) -> None:
        """Add ``values`` in memory and append them durably, in one write."""
        lines = [self._line(key, value) for key, value in values.items()]
        with self._lock:
            for line, (key, value) in zip(lines, values.items(), strict=True):
                self.entries[key] = line if self.value_field is None else value
            if self.path is not None and lines:
                with AppendLog(self.path) as log:
                    log.extend(lines)


def write_text_atomically(path: str | os.PathLike, text: str | Iterable[str]) -> Path:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``: a kill leaves
    the old file or the new one, never half of one. Every output that must not be torn uses this.

    ``text`` may be an iterable of strings, written one after the other: a large file (the run
    viewer's page at 100k rows) then never has to be one string in memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for piece in (text,) if isinstance(text, str) else text:
                file.write(piece)
            file.flush()
            os.fsync(file.fileno())
        readable_like_open(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
