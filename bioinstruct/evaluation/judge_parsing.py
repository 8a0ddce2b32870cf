"""Reading a judge's reply: strict scores, copied answer forms, numeric examples in a prompt.

Why separate from :mod:`bioinstruct.evaluation.judge`: these are pure functions over text, tested
on what real judges wrote (a small model copied the prompt's numeric example and, told to fill a
form, may copy the form's placeholders instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"<\s*(?:score|integer|int|number|\d\s*-\s*\d)[^>]*>", re.IGNORECASE)
_OBJECT = re.compile(r"\{[^{}]*\}")


class JudgeParseError(ValueError):
    """A judge reply that is not a JSON object with an integer 1..5 for every axis."""


def parse_scores(text: str, axes: Sequence[str]) -> dict[str, int]:
    """The axis scores in a judge reply, or :class:`JudgeParseError` saying what is wrong.

    Accepted: one JSON object (optionally in a ```json fence) with an integer 1..5 (``4`` or
    ``4.0``) for each axis; keys are matched case-insensitively and extra keys are ignored.
    """
    body = _FENCE.sub("", (text or "").strip())
    if _PLACEHOLDER.search(body):
        raise JudgeParseError("the reply copies the answer form; replace each <score> with your own integer")
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise JudgeParseError("no JSON object found")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise JudgeParseError(f"invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise JudgeParseError("the JSON is not an object")
    lowered = {str(key).strip().casefold(): value for key, value in data.items()}
    scores: dict[str, int] = {}
    for axis in axes:
        if axis.casefold() not in lowered:
            raise JudgeParseError(f"missing score for {axis!r}")
        value = lowered[axis.casefold()]
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            raise JudgeParseError(f"{axis!r} must be an integer, got {value!r}")
        if not 1 <= int(value) <= 5:
            raise JudgeParseError(f"{axis!r} must be between 1 and 5, got {value!r}")
        scores[axis] = int(value)
    return scores


def example_scores(prompt: str, axes: Sequence[str]) -> list[dict[str, int]]:
    """Numeric score examples a prompt shows (a judge may copy them instead of judging)."""
    found = []
    for match in _OBJECT.finditer(prompt):
        try:
            found.append(parse_scores(match.group(0), axes))
        except JudgeParseError:
            continue
    return found


__all__ = ["JudgeParseError", "example_scores", "parse_scores"]
