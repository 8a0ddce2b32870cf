"""The prediction cache of the evaluator: raw model outputs on disk, keyed by everything that made them.

Why its own module: a rerun, or a run killed half-way, must reuse every prediction it already
paid for and none it did not (another model, adapter, dtype, template, protocol or CoT setting),
and that contract is easier to read and test alone than inside the evaluation loop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bioinstruct.jsonio import KeyedLog


def cache_key(*parts: Any) -> str:
    """sha256 of the JSON of ``parts``: a prediction's key, and (first 16 digits) its file's name."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode()).hexdigest()


class PredictionCache:
    """Append-only JSONL of raw predictions for one (model, adapter, benchmark, protocol).

    One ``{"key", "output"}`` line per prediction, in a :class:`~bioinstruct.jsonio.KeyedLog`: a
    line torn by a kill is skipped (one warning for all of them) and its item predicted again.
    """

    def __init__(self, directory: str | Path | None, benchmark: str, *identity: Any) -> None:
        name = f"{benchmark}-{cache_key(benchmark, *identity)[:16]}.jsonl"
        self.path = Path(directory) / name if directory else None
        self._log = KeyedLog(self.path, value_field="output", what="prediction cache")
        #: key -> raw output, loaded from the file and kept up to date by :meth:`add`
        self.entries: dict[str, Any] = self._log.entries

    def add(self, outputs: Mapping[str, Any]) -> None:
        self._log.update(outputs)
