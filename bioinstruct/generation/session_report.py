"""Progress fields and run.json of a generation session.

Why apart from the loop: run.json is rewritten after every completed request and is what a user
(and ``bioinstruct view``) reads of a run in progress; what goes into it (counters, teacher and
reviewer statistics, pacing, decontamination, diversity, quality gates) is one job. Mixed into
:class:`bioinstruct.generation.session.GenerationSession`, whose state it uses.
"""

from __future__ import annotations

import time
from typing import Any

from bioinstruct.generation.diversity import diversity_summary
from bioinstruct.generation.gates import quality_summary
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    JOURNAL,
    RUN_JSON,
    merge_teacher_stats,
    write_json_atomic,
)
from bioinstruct.generation.progress import cost_text

#: seconds between recomputations of the row summaries while a run is going
SUMMARY_INTERVAL = 15.0


class RunReport:
    """``_status`` (the progress bar's fields), ``_tick`` and ``_write_run_json``."""

    builder: Any
    config: Any
    state: Any
    teacher: Any
    reviewer: Any
    target: int
    stop_reason: str | None
    _labelling: int
    _started: float
    _session_requests: int
    _progress_bar: Any
    _previous_teacher: dict[str, Any]
    _overlap: Any
    _reader: Any
    #: (when computed, the diversity and quality summaries), reused between recomputations
    _summaries: tuple[float, dict[str, Any]] | None = None

    def _status(self) -> dict[str, str]:
        """The progress fields: requests (in flight), candidates and kept tasks, rate and cost."""
        stats = self.teacher.stats
        in_flight = stats.requests - stats.succeeded - stats.failed - stats.cancelled
        minutes = max((time.monotonic() - self._started) / 60, 1e-6)
        return {
            "requests": f"{self._session_requests} ({in_flight} in flight)",
            "candidates": f"{self.state.candidates} ({self.state.passed_filters} passed filters)",
            "req/min": f"{self._session_requests / minutes:.1f} (paced to {self.teacher.pacer.describe()})",
            "cost": cost_text(self.teacher.total_cost_usd, self.teacher.price is not None),
        }

    def _tick(self) -> None:
        self._progress_bar.refresh()
        self._write_run_json("running")

    def _write_run_json(self, status: str) -> None:
        counters = self.state.counters()
        counters["pending_label"] += self._labelling
        write_json_atomic(
            self.builder.output_dir / RUN_JSON,
            {
                "status": status,
                "stop_reason": self.stop_reason,
                "target": self.target,
                "config": self.builder.run_settings(),
                "counters": counters,
                "teacher": self._teacher_counters(),
                "decontamination": self._overlap.report(self.state) if self._overlap else None,
                **self._row_summaries(final=status != "running"),
                "files": {"instructions": INSTRUCTIONS, "journal": JOURNAL},
            },
        )

    def _row_summaries(self, final: bool) -> dict[str, Any]:
        """run.json's ``diversity`` and ``quality``, which read every row: while running, recomputed
        at most every ``SUMMARY_INTERVAL`` seconds (1.3 s per rewrite at 100k rows otherwise)."""
        cached = self._summaries
        now = time.monotonic()
        if final or cached is None or now - cached[0] >= SUMMARY_INTERVAL:
            rows = self.state.rows
            summaries = {"diversity": diversity_summary(rows),
                         "quality": quality_summary(self.config, rows, self.state.rejected)}  # fmt: skip
            self._summaries = cached = (now, summaries)
        return cached[1]

    def _teacher_counters(self) -> dict[str, Any]:
        stats = self.teacher.stats
        current = {
            **stats.to_dict(),
            "in_flight": stats.requests - stats.succeeded - stats.failed - stats.cancelled,
        }
        merged = merge_teacher_stats(self._previous_teacher, current)
        merged["price_known"] = self.teacher.price is not None
        merged["json_mode_ignored"] = self._reader.json_ignored
        merged["pacing"] = self.teacher.pacer.snapshot()  # this session's estimate, not a sum
        if self.reviewer not in (None, self.teacher):  # a reviewer at its own endpoint (this session)
            merged["reviewer"] = {**self.reviewer.stats.to_dict(), "pacing": self.reviewer.pacer.snapshot()}
        return merged
