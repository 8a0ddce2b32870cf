"""The files a generation run leaves, and how a run is rebuilt from them.

Why append-only JSONL with one fsync per line: a run may be stopped by Ctrl-C, ``kill -9`` or a
power cut at any byte. Every event is complete on disk before the next step relies on it, so
the only damage a kill can do is a torn last line, which :func:`recover_jsonl` cuts off before
anything is appended again. ``instructions.jsonl`` is the truth about accepted rows; the
journal is the truth about everything else (requests, replies, candidate decisions, batches), and
:func:`recover` rebuilds the builder's state from both.

Journal events (``event`` field): ``request``, ``reply``, ``error``, ``parse``, ``candidate``
(``decision``: ``kept`` = passed every filter and waits for its label, ``rejected`` with
``filter``/``reason`` (``benchmark_overlap`` adds the ``overlap`` list), ``surplus`` = target
already covered; ``identifiers`` lists patient identifiers the screen found), ``reviewed`` (the
reviewer's ``review``), ``dropped`` (a kept task a quality gate dropped: ``filter``/``reason``),
``unlabelled``, ``accepted``, ``budget_stop``, ``batch_submitted``,
``batch_status``, ``batch_ingested``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.jsonio import AppendLog, cut_torn_tail, iter_jsonl, paused_gc, write_text_atomically

JOURNAL = "journal.jsonl"
INSTRUCTIONS = "instructions.jsonl"
RUN_JSON = "run.json"


def recover_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file written by this module, cutting off a torn last line first.

    Every line is written whole and ends with a newline, so bytes after the last newline are
    the remains of a write interrupted by a kill: the file is truncated to the last complete
    line (:func:`~bioinstruct.jsonio.cut_torn_tail`), so the next append starts on a clean line.
    """
    if not path.exists():
        return []
    cut_torn_tail(path)
    return list(iter_jsonl(path))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` in one step, so a kill leaves the old or the new file, never half."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_run_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path} is not valid JSON ({err}); delete it to rebuild it from the journal"
        ) from err


class Journal(AppendLog):
    """``journal.jsonl``: every request, reply and candidate decision, with a timestamp.

    The append-only log itself is :class:`bioinstruct.jsonio.AppendLog` (imported here too, for the
    rows file ``instructions.jsonl``)."""

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        self.append(record)
        return record


@dataclass
class RunState:
    """What a run has done so far, rebuilt from its files (or empty for a new run)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: candidate events that passed every filter and have no row yet, in journal order
    pending: list[dict[str, Any]] = field(default_factory=list)
    generation_requests: int = 0
    generation_replies: int = 0
    #: candidates that passed every filter (kept), over the whole run: with generation_replies, the yield
    passed_filters: int = 0
    label_requests: int = 0
    review_requests: int = 0
    failed_requests: int = 0
    #: kept tasks whose label replies were all unreadable, accepted as OTHER (``label_source: "fallback"``)
    label_fallbacks: int = 0
    candidates: int = 0
    truncated_items: int = 0
    surplus: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    #: batch_id -> its ``batch_submitted`` event, for batches submitted but not yet ingested
    open_batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: request ids with a journaled reply or error (a re-ingested batch skips them)
    answered: set[str] = field(default_factory=set)
    #: candidate events rejected by ``benchmark_overlap`` (with their ``overlap`` lists), for run.json
    overlaps: list[dict[str, Any]] = field(default_factory=list)

    def expected_yield(self, prior: float) -> float:
        """Candidates kept per generation reply so far (``prior`` before the first reply)."""
        return self.passed_filters / self.generation_replies if self.generation_replies else prior

    def counters(self) -> dict[str, Any]:
        """The counters that go to run.json (cumulative over every session of the run)."""
        return {
            "kept": len(self.rows),
            "pending_label": len(self.pending),
            "candidates": self.candidates,
            "rejected": sum(self.rejected.values()),
            "rejected_by_filter": dict(sorted(self.rejected.items())),
            "surplus": self.surplus,
            "truncated_items": self.truncated_items,
            "reply_problems": dict(sorted(self.problems.items())),
            "generation_requests": self.generation_requests,
            "label_requests": self.label_requests,
            "review_requests": self.review_requests,
            "failed_requests": self.failed_requests,
            "label_fallbacks": self.label_fallbacks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


def apply_event(state: RunState, event: dict[str, Any], kept_ids: dict[str, dict[str, Any]]) -> None:
    """Fold one journal event into ``state``; ``kept_ids`` collects candidates waiting for labels."""
    kind = event.get("event")
    if kind == "request":
        if event.get("kind") == "label":
            state.label_requests += 1
        elif event.get("kind") == "review":
            state.review_requests += 1
        else:
            state.generation_requests += 1
    elif kind == "reply":
        state.answered.add(event.get("request_id", ""))
        state.generation_replies += event.get("kind") == "generate"
        state.prompt_tokens += int(event.get("prompt_tokens") or 0)
        state.completion_tokens += int(event.get("completion_tokens") or 0)
        state.cost_usd += float(event.get("cost_usd") or 0.0)
    elif kind == "error":
        state.answered.add(event.get("request_id", ""))
        state.failed_requests += 1
    elif kind == "parse":
        state.truncated_items += int(event.get("truncated") or 0)
        if event.get("problem"):
            state.problems[event["problem"]] += 1
    elif kind == "candidate":
        state.candidates += 1
        decision = event.get("decision")
        if decision == "kept":
            state.passed_filters += 1
            kept_ids[event["id"]] = event
        elif decision == "rejected":
            state.rejected[event.get("filter", "unknown")] += 1
            if event.get("filter") == "benchmark_overlap":
                state.overlaps.append(event)
        elif decision == "surplus":
            state.surplus += 1
    elif kind == "reviewed" and event["id"] in kept_ids:  # a resumed run reuses the review
        kept_ids[event["id"]]["review"] = event["review"]
    elif kind == "dropped":  # a kept task a quality gate dropped (answer_review)
        kept_ids.pop(event["id"], None)
        state.rejected[event.get("filter", "unknown")] += 1
    elif kind == "unlabelled":
        if event.get("fallback"):  # kept with the fallback category; its row follows
            state.label_fallbacks += 1
        elif kept_ids.pop(event["id"], None) is not None:  # journals written before the fallback
            state.rejected["label"] += 1
    elif kind == "batch_submitted":
        # One event for the whole batch, so a kill can never leave request ids half taken.
        state.generation_requests += len(event.get("requests", []))
        state.open_batches[event["batch_id"]] = event
    elif kind == "batch_ingested":
        state.open_batches.pop(event["batch_id"], None)


def recover(output_dir: Path) -> RunState:
    """Rebuild the state of the run in ``output_dir`` from instructions.jsonl and journal.jsonl.

    Torn last lines are cut off both files. A candidate the journal marks ``kept`` whose id is
    not in instructions.jsonl was waiting for its label when the run stopped: it is pending again.
    """
    state = RunState()
    kept: dict[str, dict[str, Any]] = {}
    with paused_gc():
        state.rows = recover_jsonl(output_dir / INSTRUCTIONS)
        journal = output_dir / JOURNAL
        if journal.exists():
            cut_torn_tail(journal)
            for event in iter_jsonl(journal):  # streamed: only the counters and pending tasks stay
                apply_event(state, event, kept)
    accepted = {row["id"] for row in state.rows}
    if len(accepted) != len(state.rows):
        raise DataError(f"{output_dir / INSTRUCTIONS} has duplicate ids; it was not written by this builder")
    state.pending = [event for cand_id, event in kept.items() if cand_id not in accepted]
    return state


def settle_previous_teacher(previous: dict[str, Any]) -> dict[str, Any]:
    """Teacher counters of the last session; requests it had in flight when it was killed
    (``kill -9``: no reply, error or cancel was ever counted) become ``lost``, so that over the
    run requests = succeeded + failed + cancelled + lost (+ in_flight while one runs)."""
    settled = dict(previous)
    in_flight = int(settled.pop("in_flight", 0) or 0)
    if not in_flight and settled.get("requests"):  # run.json from before in_flight was recorded
        counted = sum(int(settled.get(key) or 0) for key in ("succeeded", "failed", "cancelled", "lost"))
        in_flight = max(0, int(settled["requests"]) - counted)
    settled["lost"] = int(settled.get("lost") or 0) + in_flight
    return settled


def merge_teacher_stats(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Add two TeacherStats dicts (numbers and nested counters), for cumulative run.json counters."""
    merged: dict[str, Any] = dict(previous)
    for key, value in current.items():
        if isinstance(value, dict):
            merged[key] = merge_teacher_stats(previous.get(key) or {}, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = round(previous.get(key, 0) + value, 6)
    return merged
