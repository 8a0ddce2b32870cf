"""Reading a generation run folder for the viewer, without ever writing to it.

Why not :func:`bioinstruct.generation.journal.recover`: recovery cuts a torn last line off the
files, which is right for the builder that is about to append, and wrong for a viewer that may
look at a run still in progress: the "torn" line may be one the live builder is writing at that
moment. Here a torn last line is only skipped (``iter_jsonl(tolerate_torn_tail=True)``) and the
files are opened read-only, so viewing a run can never change it.

The journal is streamed (:func:`iter_events`), never held whole: at 100k rows it carries hundreds
of megabytes of prompts and replies the viewer does not show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.generation.journal import INSTRUCTIONS, JOURNAL, RUN_JSON
from bioinstruct.generation.seeds import load_seed_tasks, seed_set_hash
from bioinstruct.jsonio import iter_jsonl
from bioinstruct.secrets import SECRET_FIELD, public_url, redact

#: Field names never copied into the page, on top of :data:`bioinstruct.secrets.SECRET_FIELD`:
#: anything with "key" in it, and a singular "token" word (``hf_token``; ``prompt_tokens`` and
#: ``tokens_per_minute`` are counters and pacing settings, and stay).
_HIDDEN_FIELD = re.compile(r"key|(^|_)token($|_)", re.IGNORECASE)
#: a value that is one URL (an evaluation's ``endpoint``, say): shown without user info or query
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


@dataclass
class RunFolder:
    """What the viewer reads besides the journal: rows, run.json, the seed tasks."""

    path: Path
    rows: list[dict[str, Any]]
    run: dict[str, Any]
    #: the run's seed tasks (what a ``most_similar`` id such as ``seed_012`` refers to), or empty
    seeds: list[dict[str, Any]] = field(default_factory=list)
    #: one line each for something the page should say it could not show (seeds not found, ...)
    notes: list[str] = field(default_factory=list)

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL


def check_run_folder(folder: str | Path) -> Path:
    """``folder`` as a Path, or a :class:`DataError` naming it and what a run folder holds."""
    path = Path(folder)
    expected = f"expected a generation run folder holding {JOURNAL} or {INSTRUCTIONS}"
    if not path.exists():
        raise DataError(f"{path}: folder not found; {expected}")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; {expected}")
    if not (path / JOURNAL).is_file() and not (path / INSTRUCTIONS).is_file():
        raise DataError(f"{path}: not a run folder; {expected} (as `bioinstruct generate` writes)")
    return path


def read_run_folder(folder: str | Path) -> RunFolder:
    """The rows, run.json and seeds of the run in ``folder`` (checked with :func:`check_run_folder`)."""
    path = check_run_folder(folder)
    rows = list(_read_jsonl(path / INSTRUCTIONS))
    run = _read_run_json(path / RUN_JSON)
    notes = [] if run else [f"no {RUN_JSON} yet: status and settings are unknown, counts come from the files"]
    seeds, note = _load_seeds(path, run)
    notes += [note] if note else []
    return RunFolder(path, rows, run, seeds, notes)


def iter_events(folder: RunFolder) -> Iterator[dict[str, Any]]:
    """The journal's events in order (none when there is no journal yet); a torn last line is skipped."""
    yield from _read_jsonl(folder.journal)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if path.is_file():
        yield from iter_jsonl(path, tolerate_torn_tail=True)


def _read_run_json(path: Path) -> dict[str, Any]:
    """run.json, or {} when absent; it is replaced atomically, so a half-written one is never read."""
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(
            f"{path}: not valid JSON ({err}); expected the run.json a generation run writes"
        ) from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _seed_source(folder: Path, run: dict[str, Any]) -> str | None:
    """The seed file the run used: run.json's config, else the CLI's generate.yaml; None = bundled."""
    config = run.get("config") or {}
    if config.get("seed_tasks"):
        return str(config["seed_tasks"])
    settings = folder / "generate.yaml"
    if settings.is_file():
        import yaml

        try:
            recorded = yaml.safe_load(settings.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            return None
        if isinstance(recorded, dict) and recorded.get("seed_tasks"):
            return str(recorded["seed_tasks"])
    return None


def _load_seeds(folder: Path, run: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The run's seeds and, when they could not be found or are not the run's, one line saying so.

    A relative seed path was relative to where ``generate`` ran; it is tried from here, from the
    run folder and from its parent. ``seed_set_hash`` in run.json says whether the seeds found are
    the ones the run used (a custom seed file is not always recorded by path).
    """
    source = _seed_source(folder, run)
    try:
        if source is None:
            seeds = load_seed_tasks(None)
        else:
            candidates = [Path(source)] + (
                [] if Path(source).is_absolute() else [folder / source, folder.parent / source]
            )
            found = next((path for path in candidates if path.is_file()), None)
            if found is None:
                return [], f"seed file {source} not found: neighbours among the seeds are shown by id only"
            seeds = load_seed_tasks(found)
    except DataError as err:
        return [], f"seed tasks unreadable ({err}): neighbours among the seeds are shown by id only"
    recorded = (run.get("config") or {}).get("seed_set_hash")
    if recorded and recorded != seed_set_hash(seeds):
        where = "the bundled seeds" if source is None else source
        return (
            [],
            f"{where} are not the seeds this run used (seed_set_hash differs): neighbours among the seeds are shown by id only",
        )
    return seeds, None


def public_settings(value: Any, name: str = "") -> Any:
    """``value`` without credential-like fields (at any depth), URLs without user info, key-shaped text masked.

    Shared by both viewers: run.json's settings and an evaluation's protocols and evaluate.yaml."""
    if isinstance(value, dict):
        return {
            key: public_settings(item, str(key))
            for key, item in value.items()
            if not (SECRET_FIELD.search(str(key)) or _HIDDEN_FIELD.search(str(key)))
        }
    if isinstance(value, list):
        return [public_settings(item, name) for item in value]
    if isinstance(value, str):
        if (name.endswith("url") and "://" in value) or _URL.match(value):
            value = public_url(value) or ""
        return redact(value)
    return value


__all__ = ["RunFolder", "check_run_folder", "iter_events", "public_settings", "read_run_folder"]
