"""Label kept tasks QA / IE / GEN / OTHER with the teacher, many instructions per request.

Why several per request: one request per task would double the number of requests of a run.
Why retry instead of guess: a wrong category silently skews the category counts the paper
reports. A reply line we cannot read unambiguously is asked again (only the items still missing,
renumbered from 1); after ``max_attempts`` the item stays unlabelled and the builder records it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.generation.prompting import render_label_prompt

LABELS: tuple[str, ...] = ("QA", "IE", "GEN", "OTHER")
_LINE = re.compile(
    r"^[ \t>#*_-]*(?P<num>\d{1,4})[ \t]*[.):\-][ \t]*[*_`\[]*[ \t]*(?P<label>[A-Za-z]+)[ \t]*[*_`\]]*[ \t.]*$"
)

#: ``ask(prompt, max_tokens) -> Completion``: the builder's journaled call to the teacher.
Ask = Callable[[str, int], Awaitable[Any]]


def parse_labels(text: str | None, count: int) -> dict[int, str]:
    """Read ``N. LABEL`` lines for items 1..count; returns only the numbers read unambiguously.

    A number given two different labels, an unknown label, or a number outside 1..count is
    left out, so the caller asks again rather than guess.
    """
    found: dict[int, set[str]] = {}
    for line in (text or "").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        number, label = int(match.group("num")), match.group("label").upper()
        if 1 <= number <= count:
            found.setdefault(number, set()).add(label)
    return {
        number: next(iter(labels))
        for number, labels in found.items()
        if len(labels) == 1 and next(iter(labels)) in LABELS
    }


def max_label_tokens(count: int) -> int:
    """Enough completion tokens for ``count`` short lines, with room for a stray preface."""
    return 32 + 8 * count


@dataclass
class LabelOutcome:
    """Labels in the order of the instructions (None where every attempt failed) and the attempts made."""

    labels: list[str | None]
    attempts: int = 0
    unreadable_replies: int = 0
    completions: list[Any] = field(default_factory=list)


async def label_instructions(
    ask: Ask, instructions: Sequence[str], *, max_attempts: int = 3, template: str | Path | None = None
) -> LabelOutcome:
    """Label ``instructions`` with the teacher, asking again for the items a reply left unreadable."""
    outcome = LabelOutcome(labels=[None] * len(instructions))
    missing = list(range(len(instructions)))
    while missing and outcome.attempts < max_attempts:
        outcome.attempts += 1
        prompt = render_label_prompt([instructions[i] for i in missing], template=template)
        completion = await ask(prompt, max_label_tokens(len(missing)))
        outcome.completions.append(completion)
        parsed = parse_labels(getattr(completion, "text", ""), len(missing))
        if len(parsed) < len(missing):
            outcome.unreadable_replies += 1
        for number, label in parsed.items():
            outcome.labels[missing[number - 1]] = label
        missing = [i for i in missing if outcome.labels[i] is None]
    return outcome
