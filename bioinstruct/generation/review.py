"""Answer review: a reviewer model grades each kept task's output before it becomes a row.

Why: self-instruct's own authors found 46% of sampled rows flawed, and in medicine a wrong dose in
training data becomes a confident wrong answer in the tuned model. The reviewer (any
OpenAI-compatible endpoint; by default the teacher) scores correctness, completeness and safety
from 1 to 5 with a short rationale, as one JSON object. A reply that is not that object (not JSON,
a missing key, a score outside 1..5) is asked again once with a prompt naming the problem; a
second bad reply is a review *failure*: the row is dropped (``answer_review`` with the reason),
never kept unreviewed by accident. ``pydantic`` validates the object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bioinstruct.generation.prompting import render_template

REVIEW_TEMPLATE, REPAIR_TEMPLATE = "review.jinja", "review_repair.jinja"
CRITERIA = ("correctness", "completeness", "safety")
#: the filter name a dropped row is journaled and counted under
GATE = "answer_review"
ACTIONS = ("drop", "keep")
#: a review reply needs a few short fields; the rationale is asked to be one or two sentences
REVIEW_MAX_TOKENS = 300
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

#: ``ask(messages, max_tokens, temperature) -> Completion``: the session's journaled reviewer call
Ask = Callable[[list[dict[str, str]], int, float], Awaitable[Any]]


class Scores(BaseModel):
    """The reviewer's reply: three integer scores 1..5 and a rationale."""

    model_config = ConfigDict(extra="ignore")
    correctness: int = Field(ge=1, le=5, strict=True)
    completeness: int = Field(ge=1, le=5, strict=True)
    safety: int = Field(ge=1, le=5, strict=True)
    rationale: str = Field(min_length=1, max_length=2000)


def read_scores(text: str | None) -> tuple[Scores | None, str | None]:
    """The scores in a reply (the first ``{...}`` in it, fences and preface ignored), or the problem."""
    match = _OBJECT.search(text or "")
    if match is None:
        return None, "it contained no JSON object"
    try:
        value = json.loads(match.group(0))
    except json.JSONDecodeError as err:
        return None, f"it was not valid JSON ({err.msg})"
    if not isinstance(value, dict):
        return None, "it was not a JSON object"
    try:
        return Scores.model_validate(value), None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the object"
        return None, f"{where}: {first['msg'].lower()} (got {first.get('input')!r})"[:200]


@dataclass
class Review:
    """One row's review: the scores (None when the reviewer never gave readable ones) and the verdict."""

    scores: Scores | None
    passed: bool
    reviewer: str
    attempts: int
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row's ``review`` column (and the journal's ``reviewed`` event)."""
        scores = self.scores.model_dump() if self.scores else dict.fromkeys([*CRITERIA, "rationale"])
        return {**scores, "reviewer": self.reviewer, "passed": self.passed}

    def reason(self, threshold: int) -> str:
        """Why the row is dropped, one line for the journal."""
        if self.scores is None:
            return f"no readable review after {self.attempts} replies ({self.problem})"
        low = [
            f"{name} {getattr(self.scores, name)}"
            for name in CRITERIA
            if getattr(self.scores, name) < threshold
        ]
        return f"scored under {threshold}: {', '.join(low)}; {self.scores.rationale[:120]}"


def review_prompt(task: Mapping[str, Any], template: str | Path | None = None) -> str:
    """The review prompt for one task (instruction, input, output)."""
    fields = {key: str(task.get(key) or "").strip() for key in ("instruction", "input", "output")}
    return render_template(template, REVIEW_TEMPLATE, **fields)


async def review_task(
    ask: Ask,
    task: Mapping[str, Any],
    *,
    threshold: int,
    reviewer: str,
    template: str | Path | None = None,
    max_tokens: int = REVIEW_MAX_TOKENS,
) -> Review:
    """Grade one task; a row passes when every score is at least ``threshold``.

    An unreadable reply is repaired once (the repair prompt names the problem, at temperature
    0.7 so it is not the identical request); a second unreadable reply fails the review.
    """
    prompt = review_prompt(task, template)
    problem: str | None = None
    for attempt in (1, 2):
        content = prompt
        if problem is not None:
            note = render_template(None, REPAIR_TEMPLATE, problem=problem)
            content = prompt.rstrip() + "\n" + note
        completion = await ask(
            [{"role": "user", "content": content}], max_tokens, 0.0 if attempt == 1 else 0.7
        )
        scores, problem = read_scores(getattr(completion, "text", ""))
        if scores is not None:
            passed = min(getattr(scores, name) for name in CRITERIA) >= threshold
            return Review(scores, passed, reviewer, attempt)
    return Review(None, False, reviewer, 2, problem)


def review_distribution(rows: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """run.json's and the card's summary: per criterion, how many rows got each score 1..5."""
    reviewed = [row["review"] for row in rows if row.get("review") and row["review"].get("correctness")]
    if not reviewed:
        return None
    counts = {name: {str(score): 0 for score in range(1, 6)} for name in CRITERIA}
    for review in reviewed:
        for name in CRITERIA:
            counts[name][str(review[name])] += 1
    means = {name: round(sum(r[name] for r in reviewed) / len(reviewed), 3) for name in CRITERIA}
    return {"rows": len(reviewed), "passed": sum(bool(r.get("passed")) for r in reviewed), "counts": counts,
            "mean": means}  # fmt: skip


__all__ = [
    "ACTIONS",
    "CRITERIA",
    "GATE",
    "Review",
    "Scores",
    "read_scores",
    "review_distribution",
    "review_task",
]
