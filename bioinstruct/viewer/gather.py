"""Everything the run viewer shows, gathered from a run folder into one :class:`RunView`.

Why one pass over the journal: at 100k rows the journal is hundreds of megabytes, mostly prompts
and reply texts the page does not show. Each event is folded as it is read (:class:`_Fold`) and
only what the page needs is kept: candidate decisions, drops, and one point per reply for the
request, token and cost curves.

What becomes an item (one entry of the page's list), in this order:

- ``kept``: a row of instructions.jsonl (the truth about accepted rows, as for the builder);
- ``pending``: a candidate the journal marks kept that has no row yet ("pending label");
- ``rejected``: a candidate rejected by a filter, a kept one later ``dropped`` by a quality gate
  (``answer_review``), or one whose label never came (``label``, old journals), grouped by rule;
- ``surplus``: passed every filter after the target was already covered.

Each item's nearest neighbour (``most_similar``) is resolved to a reference into the items or the
seeds (``nn_ref``), so the page can show the text a candidate was too close to without copying it.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.viewer.masking import mask_identifiers
from bioinstruct.viewer.run_folder import RunFolder, iter_events, public_settings, read_run_folder

STATUSES = ("kept", "pending", "rejected", "surplus")
#: the rule a candidate whose label never came is counted under (as journal.recover counts it)
LABEL_RULE = "label"
#: the rule a dropped event without a filter is counted under
REVIEW_RULE = "answer_review"
#: the identifier screen's rule: its rejections are shown with the identifiers masked
IDENTIFIER_RULE = "patient_identifiers"
#: reply points kept for each curve (a 100k-row run has thousands of replies)
MAX_POINTS = 400


@dataclass
class RunView:
    """The gathered run: header numbers, items in page order, seeds, curves, notes."""

    path: Path
    header: dict[str, Any]
    settings: dict[str, Any]
    items: list[dict[str, Any]]
    seeds: list[dict[str, Any]]
    #: cumulative curves over the replies: seconds since the first event (x), requests, tokens, dollars
    series: dict[str, list[float]]
    rules: dict[str, int]
    threshold: float
    notes: list[str] = field(default_factory=list)

    def neighbour(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """The item's nearest neighbour: id, score, where it is (seed, kept, pending, ...) and its text."""
        similar = item.get("most_similar")
        if not isinstance(similar, dict) or similar.get("id") is None:
            return None
        ref = item.get("nn_ref")
        found = None if ref is None else self.seeds[-ref - 1] if ref < 0 else self.items[ref]
        where = None if found is None else "seed" if ref < 0 else found["status"]
        text = None if found is None else found["instruction"]
        return {"id": similar["id"], "score": similar.get("score"), "where": where, "instruction": text}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _item(source: dict[str, Any], status: str, rule: str = "", reason: str = "") -> dict[str, Any]:
    """The fields the page shows, from a row or a candidate event (extra fields are never copied)."""
    overlap = source.get("overlap")
    return {
        "id": _text(source.get("id")),
        "status": status,
        "rule": rule,
        "reason": _text(reason),
        "category": _text(source.get("category")),
        "instruction": _text(source.get("instruction")),
        "input": _text(source.get("input")),
        "output": _text(source.get("output")),
        "request_id": _text(source.get("request_id")),
        "seed_ids": [str(seed) for seed in source.get("seed_ids") or []],
        "teacher_model": _text(source.get("teacher_model")),
        "label_source": _text(source.get("label_source")),
        "most_similar": source.get("most_similar") if isinstance(source.get("most_similar"), dict) else None,
        "review": source.get("review") if isinstance(source.get("review"), dict) else None,
        "identifiers": source.get("identifiers") if isinstance(source.get("identifiers"), list) else None,
        "overlap": overlap if isinstance(overlap, list) else None,
        "time": source.get("time"),
        "nn_ref": None,
    }


class _Fold:
    """The journal, folded event by event into what the page needs."""

    def __init__(self, accepted: set[str]) -> None:
        #: ids with a row: their kept events are only counted (the row has everything), which keeps
        #: a 100k-row journal from being held in memory a second time
        self.accepted, self.kept_with_row = accepted, 0
        self.kept: dict[str, dict[str, Any]] = {}  # candidate id -> its kept event, for those without a row
        self.reviewed: dict[str, dict[str, Any]] = {}  # candidate id -> its review (pending and dropped ones)
        self.rejected: list[dict[str, Any]] = []
        self.surplus: list[dict[str, Any]] = []
        self.dropped: dict[str, dict[str, Any]] = {}  # candidate id -> its dropped event
        self.unlabelled: dict[str, dict[str, Any]] = {}  # no label and no fallback (old journals)
        self.requests: Counter[str] = Counter()
        self.failed = self.replies = self.prompt_tokens = self.completion_tokens = 0
        self.cost_usd = 0.0
        self.first_time: float | None = None
        self.last_time: float | None = None
        self.points: list[tuple[float, int, int, float]] = []  # (time, replies, tokens, dollars)
        self.budget_stops = 0

    def add(self, event: dict[str, Any]) -> None:
        kind, when = event.get("event"), event.get("time")
        if isinstance(when, int | float):
            self.first_time = when if self.first_time is None else min(self.first_time, when)
            self.last_time = when if self.last_time is None else max(self.last_time, when)
        if kind == "candidate":
            decision = event.get("decision")
            if decision == "kept":
                if str(event.get("id")) in self.accepted:
                    self.kept_with_row += 1
                else:
                    self.kept[str(event.get("id"))] = event
            elif decision == "rejected":
                self.rejected.append(event)
            elif decision == "surplus":
                self.surplus.append(event)
        elif kind == "reply":
            self.replies += 1
            self.prompt_tokens += int(event.get("prompt_tokens") or 0)
            self.completion_tokens += int(event.get("completion_tokens") or 0)
            self.cost_usd += float(event.get("cost_usd") or 0.0)
            if isinstance(when, int | float):
                tokens = self.prompt_tokens + self.completion_tokens
                self.points.append((when, self.replies, tokens, self.cost_usd))
        elif kind == "request":
            self.requests[str(event.get("kind") or "generate")] += 1
        elif kind == "batch_submitted":
            self.requests["generate"] += len(event.get("requests") or [])
        elif kind == "error":
            self.failed += 1
        elif kind == "dropped":
            self.dropped[str(event.get("id"))] = event
        elif kind == "reviewed" and isinstance(event.get("review"), dict):
            self.reviewed[str(event.get("id"))] = event["review"]
        elif kind == "unlabelled" and not event.get("fallback"):
            self.unlabelled[str(event.get("id"))] = event
        elif kind == "budget_stop":
            self.budget_stops += 1

    def series(self) -> dict[str, list[float]]:
        """The cumulative curves, thinned to at most :data:`MAX_POINTS` points (the last one kept)."""
        points = self.points
        if len(points) > MAX_POINTS:
            step = len(points) / (MAX_POINTS - 1)
            points = [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]
        start = self.first_time or 0.0
        return {
            "seconds": [round(p[0] - start, 3) for p in points],
            "requests": [p[1] for p in points],
            "tokens": [p[2] for p in points],
            "cost_usd": [round(p[3], 6) for p in points],
        }


def _items(folder: RunFolder, fold: _Fold) -> list[dict[str, Any]]:
    """kept rows, pending, rejected (grouped by rule, journal order within), surplus."""
    items = [_item(row, "kept") for row in folder.rows]
    rejected = [
        _item(event, "rejected", str(event.get("filter") or "unknown"), event.get("reason"))
        for event in fold.rejected
    ]
    for item in rejected:
        if item["rule"] == IDENTIFIER_RULE:
            mask_identifiers(item)
    for cand_id, event in fold.kept.items():
        if cand_id in fold.reviewed:  # its review is journaled apart, before its row or its drop
            event = {**event, "review": fold.reviewed[cand_id]}
        if cand_id in fold.dropped:  # a quality gate dropped it after it passed the filters
            drop = fold.dropped[cand_id]
            rejected.append(
                _item(event, "rejected", str(drop.get("filter") or REVIEW_RULE), drop.get("reason"))
            )
        elif cand_id in fold.unlabelled:
            rejected.append(_item(event, "rejected", LABEL_RULE, fold.unlabelled[cand_id].get("reason")))
        else:
            items.append(_item(event, "pending", reason="passed every filter; waiting for its label"))
    rejected.sort(key=lambda item: item["rule"])  # stable: journal order within a rule
    items += rejected
    items += [
        _item(event, "surplus", reason="passed every filter after the target was covered")
        for event in fold.surplus
    ]
    return items


def _resolve_neighbours(items: list[dict[str, Any]], seeds: list[dict[str, Any]]) -> None:
    """``nn_ref``: the index of the neighbour among the items, or ``-1 - i`` for seed ``i``, or None."""
    where: dict[str, int] = {}
    for index, seed in enumerate(seeds):
        where.setdefault(str(seed["id"]), -1 - index)
    for index, item in enumerate(items):
        if item["status"] != "surplus":  # surplus candidates never entered the pool
            where.setdefault(item["id"], index)
    for item in items:
        similar = item["most_similar"]
        if similar and similar.get("id") is not None:
            item["nn_ref"] = where.get(str(similar["id"]))


def _header(
    folder: RunFolder, fold: _Fold, items: list[dict[str, Any]], rules: Counter[str]
) -> dict[str, Any]:
    run, counts = folder.run, Counter(item["status"] for item in items)
    config = run.get("config") or {}
    return {
        "name": folder.path.resolve().name,
        "status": run.get("status") or ("unknown" if not run else None),
        "stop_reason": run.get("stop_reason"),
        "target": run.get("target"),
        **{status: counts.get(status, 0) for status in STATUSES},
        "candidates": fold.kept_with_row + len(fold.kept) + len(fold.rejected) + len(fold.surplus),
        "rejected_by_rule": dict(sorted(rules.items())),
        "requests": dict(sorted(fold.requests.items())),
        "failed_requests": fold.failed,
        "replies": fold.replies,
        "prompt_tokens": fold.prompt_tokens,
        "completion_tokens": fold.completion_tokens,
        "cost_usd": round(fold.cost_usd, 6),
        "price_known": (run.get("teacher") or {}).get("price_known"),
        "teacher_model": config.get("teacher_model")
        or next((i["teacher_model"] for i in items if i["teacher_model"]), None),
        "first_time": fold.first_time,
        "last_time": fold.last_time,
        "budget_stops": fold.budget_stops,
    }


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection while a run is read: reading creates hundreds of thousands of
    objects that all stay alive, and the collector's passes over them were half the reading time
    at 100k rows (nothing read here forms a cycle). The previous setting is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def gather_run(path: str | Path) -> RunView:
    """Read the run in ``path`` (never writing to it) and gather what the viewer shows."""
    with _no_gc():
        folder = read_run_folder(path)
        fold = _Fold({str(row.get("id")) for row in folder.rows})
        for event in iter_events(folder):
            fold.add(event)
        items = _items(folder, fold)
    _resolve_neighbours(items, folder.seeds)
    rules = Counter(item["rule"] for item in items if item["status"] == "rejected")
    config = folder.run.get("config") or {}
    threshold = config.get("similarity_threshold")
    shown = ("config", "teacher", "quality", "decontamination")
    settings = public_settings({key: folder.run.get(key) for key in shown if folder.run.get(key)})
    return RunView(
        path=folder.path,
        header=_header(folder, fold, items, rules),
        settings=settings,
        items=items,
        seeds=folder.seeds,
        series=fold.series(),
        rules=dict(sorted(rules.items())),
        threshold=float(threshold) if isinstance(threshold, int | float) else 0.7,
        notes=folder.notes,
    )


__all__ = ["STATUSES", "RunView", "gather_run"]
