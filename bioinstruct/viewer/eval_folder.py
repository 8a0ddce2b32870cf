"""Reading an evaluation folder (what ``bioinstruct evaluate`` writes) for the viewer, read-only.

Why not :meth:`bioinstruct.evaluation.report.EvalResults.load`: that builds ``BenchmarkResult``
objects, so a results.json with a field this version does not know (a newer protocol, say) fails
to load, and it gives each result every sample row of its (benchmark, model, adapter), so two
protocols of one benchmark (log-likelihood and chain-of-thought) in a file written before sample
rows named their protocol would each get both sets. The viewer reads the same files as plain JSON
instead, keeps every field it does not know (the page shows them in an item's details), and gives
each result its own rows: by the row's ``protocol`` (the report's ``protocol_name``) when it has
one, else in the order :meth:`EvalResults.save` writes them (each result's samples one after the
other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.evaluation.config import EvaluateConfig
from bioinstruct.evaluation.report import RESULTS_FILE, BenchmarkResult
from bioinstruct.jsonio import iter_jsonl
from bioinstruct.viewer.run_folder import public_settings

SAMPLES_DIR = "samples"


@dataclass
class EvalFolder:
    """results.json's entries (each with its ``samples`` rows attached), skipped members, settings."""

    path: Path
    #: results.json's ``results`` as written, each with ``samples``: its rows, ``model``/``adapter`` removed
    results: list[dict[str, Any]]
    skipped: dict[str, str]
    #: evaluate.yaml (the run's effective configuration), credentials left out; {} when absent
    config: dict[str, Any] = field(default_factory=dict)
    #: one line each for something the page should say it could not show
    notes: list[str] = field(default_factory=list)


def is_eval_folder(path: Path) -> bool:
    return (path / RESULTS_FILE).is_file()


def read_eval_folder(folder: str | Path) -> EvalFolder:
    """results.json, the samples files and evaluate.yaml of the evaluation folder ``folder``."""
    path = Path(folder)
    data = _read_results(path / RESULTS_FILE)
    entries = [entry for entry in data.get("results") or [] if isinstance(entry, dict)]
    notes: list[str] = []
    for name in dict.fromkeys(str(entry.get("benchmark")) for entry in entries):
        group = [entry for entry in entries if str(entry.get("benchmark")) == name]
        _attach_samples(path / SAMPLES_DIR / f"{name}.jsonl", group, notes)
    skipped = data.get("skipped") if isinstance(data.get("skipped"), dict) else {}
    return EvalFolder(path, entries, {str(k): str(v) for k, v in skipped.items()}, _read_config(path), notes)


def _read_results(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not readable as JSON ({err}); expected the {RESULTS_FILE} "
                        "`bioinstruct evaluate` writes") from None  # fmt: skip
    if not isinstance(value, dict) or not isinstance(value.get("results"), list):
        raise DataError(
            f"{path}: expected a JSON object with a 'results' list, as `bioinstruct evaluate` writes"
        )
    return value


def _protocol_names(entry: dict[str, Any]) -> set[str]:
    """The names a sample row's ``protocol`` may give for this result: the report's
    ``protocol_name`` (``loglik``, ``generate``, ``cot``), and its word and name as written."""
    protocol = entry.get("protocol") if isinstance(entry.get("protocol"), dict) else {}
    names = {str(protocol[key]) for key in ("protocol", "name") if protocol.get(key)}
    named = getattr(BenchmarkResult("", "", None, {}, 0, protocol=protocol), "protocol_name", None)
    return names | ({str(named)} if named else set())


def _attach_samples(path: Path, group: list[dict[str, Any]], notes: list[str]) -> None:
    """Give each result of one benchmark its rows of ``path`` (see the module's docstring)."""
    for entry in group:
        entry["samples"] = []
    if not path.is_file():
        notes.append(f"{SAMPLES_DIR}/{path.name} not found: {path.stem} has scores but no items to show")
        return
    owners: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for entry in group:
        owners.setdefault((entry.get("model"), entry.get("adapter")), []).append(entry)
    unmatched, by_order = 0, False
    for row in iter_jsonl(path):  # a damaged line is a DataError naming the file and line
        candidates = owners.get((row.pop("model", None), row.pop("adapter", None)))
        protocol = row.pop("protocol", None)  # absent in files written before results had protocols
        if candidates and protocol is not None:
            candidates = [entry for entry in candidates if str(protocol) in _protocol_names(entry)]
        if not candidates:
            unmatched += 1
            continue
        if len(candidates) > 1:  # an older file: one benchmark under several protocols, rows unnamed
            by_order = True
        (_next_in_order(candidates) if len(candidates) > 1 else candidates[0])["samples"].append(row)
    if unmatched:
        notes.append(f"{SAMPLES_DIR}/{path.name}: {unmatched} rows belong to no result in {RESULTS_FILE}")
    if by_order:
        notes.append(f"{SAMPLES_DIR}/{path.name}: rows name no protocol; they were given to the results of "
                     f"{path.stem} in the order they were written")  # fmt: skip


def _next_in_order(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The first result that has fewer rows than items (``n``), else the last: save's writing order."""
    for entry in candidates:
        n = entry.get("n")
        if not isinstance(n, int) or len(entry["samples"]) < n:
            return entry
    return candidates[-1]


def _read_config(path: Path) -> dict[str, Any]:
    """evaluate.yaml without credentials, or {} (absent or unreadable: the results stand alone)."""
    config = path / EvaluateConfig.CONFIG_FILE
    if not config.is_file():
        return {}
    import yaml

    try:
        value = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return {}
    return public_settings(value) if isinstance(value, dict) else {}


__all__ = ["SAMPLES_DIR", "EvalFolder", "is_eval_folder", "read_eval_folder"]
