"""Label kept tasks QA / IE / GEN / OTHER with the teacher, many instructions per request.

Why several per request: one request per task would double the number of requests of a run.
Why retry before falling back: a wrong category silently skews the category counts the paper
reports. Items a reply leaves unreadable are asked again (only those, renumbered from 1), and the
retry prompt names what was wrong with the reply (a small model answers ``1. 20.`` — a number,
not a label) and samples at a higher temperature, so a retry is never the identical request
that already failed. After ``max_attempts`` the item gets no label here; the session then keeps
it as ``OTHER`` with ``label_source: "fallback"`` and counts it, so no kept task is lost and none
is mislabelled silently.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.generation.prompting import load_template, render_label_prompt

#: the category of a kept task whose every label reply was unreadable (``label_source: "fallback"``)
FALLBACK_LABEL = "OTHER"
RETRY_TEMPLATE = "label_retry.jinja"
#: temperature of the first attempt, and of every retry (a retry must not repeat the failed request)
FIRST_TEMPERATURE, RETRY_TEMPERATURE = 0.0, 0.7
_NUMBER = re.compile(r"^[ \t>#*_\-]*(?:item[ \t]*)?(?P<num>\d{1,4})[ \t]*[.):\-][ \t]*(?P<rest>.*)$", re.I)
_LABEL_WORD = re.compile(r"(?<![A-Za-z])(QA|IE|GEN|OTHER)(?![A-Za-z])", re.IGNORECASE)
_NAMES = {  # the category names of the prompt, written out instead of the short label
    "question answering": "QA",
    "information extraction": "IE",
    "generation": "GEN",
    "text generation": "GEN",
}

#: ``ask(messages, max_tokens, temperature) -> Completion``: the session's journaled teacher call.
Ask = Callable[[list[dict[str, str]], int, float], Awaitable[Any]]


def _label_of(text: str) -> str | None:
    """The one category a line's text names (``QA``, ``**ie**``, ``GEN - summarising``,
    ``Question answering``); None when it names none or several."""
    # In a longer line (an echoed instruction) only the upper-case label counts: "other" is a word.
    short = len(text.split()) <= 4
    found = {m.upper() for m in _LABEL_WORD.findall(text) if short or m.isupper()}
    if not found:
        lowered = re.sub(r"[^a-z ]+", " ", text.lower()).strip()
        found = {label for name, label in _NAMES.items() if re.fullmatch(rf"(?:\w+ )?{name}", lowered)}
    return next(iter(found)) if len(found) == 1 else None


def parse_labels(text: str | None, count: int) -> dict[int, str]:
    """Read the labels of items 1..count; returns only the numbers read unambiguously.

    ``N. LABEL`` lines (decorated or not) are read by number. A reply of exactly ``count``
    unnumbered lines that each name one label is read in order. A number given two different
    labels, a line without a label (``1. 20.``), or a number outside 1..count is left out, so
    the caller asks again rather than guess.
    """
    found: dict[int, set[str]] = {}
    unnumbered: list[str | None] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = _NUMBER.match(line)
        if match is None:
            unnumbered.append(_label_of(line))
            continue
        number, label = int(match.group("num")), _label_of(match.group("rest"))
        if label is not None and 1 <= number <= count:
            found.setdefault(number, set()).add(label)
    if not found:
        labelled = [label for label in unnumbered if label is not None]
        if len(labelled) == count:
            return dict(enumerate(labelled, start=1))
    return {number: labels.pop() for number, labels in found.items() if len(labels) == 1}


def describe_problem(text: str | None, count: int, parsed: dict[int, str]) -> str:
    """Why a reply could not be used, in words the retry prompt shows the teacher."""
    missing = [n for n in range(1, count + 1) if n not in parsed]
    if not (text or "").strip():
        return "it was empty"
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    sample = next((line for line in lines if _label_of(line) is None), lines[0])
    where = f"item{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:8]))}"
    return f"{where} got no label of QA, IE, GEN or OTHER (for example the line {sample[:80]!r})"


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
    #: what was wrong with each unreadable reply, in order
    problems: list[str] = field(default_factory=list)


def retry_prompt(instructions: Sequence[str], problem: str, *, template: str | Path | None = None) -> str:
    """The labelling prompt for ``instructions`` followed by the paragraph naming ``problem``."""
    note = load_template(None, RETRY_TEMPLATE).render(problem=problem, count=len(instructions)).strip()
    return render_label_prompt(instructions, template=template).rstrip() + "\n\n" + note + "\n"


async def label_instructions(
    ask: Ask, instructions: Sequence[str], *, max_attempts: int = 3, template: str | Path | None = None
) -> LabelOutcome:
    """Label ``instructions`` with the teacher, asking again (differently) for the items a reply left unreadable."""
    outcome = LabelOutcome(labels=[None] * len(instructions))
    missing = list(range(len(instructions)))
    problem: str | None = None
    while missing and outcome.attempts < max_attempts:
        outcome.attempts += 1
        texts = [instructions[i] for i in missing]
        if problem is None:
            prompt, temperature = render_label_prompt(texts, template=template), FIRST_TEMPERATURE
        else:
            prompt, temperature = retry_prompt(texts, problem, template=template), RETRY_TEMPERATURE
        completion = await ask(
            [{"role": "user", "content": prompt}], max_label_tokens(len(missing)), temperature
        )
        outcome.completions.append(completion)
        reply = getattr(completion, "text", "")
        parsed = parse_labels(reply, len(missing))
        problem = None
        if len(parsed) < len(missing):
            outcome.unreadable_replies += 1
            problem = describe_problem(reply, len(missing), parsed)
            outcome.problems.append(problem)
        for number, label in parsed.items():
            outcome.labels[missing[number - 1]] = label
        missing = [i for i in missing if outcome.labels[i] is None]
    return outcome
