"""One item of an evaluation across its variants: its cells, and the flags the viewer filters on.

Why apart from the folding (:mod:`bioinstruct.viewer.eval_gather`): these few rules decide what
the page calls "changed by the adapter", "unparseable" and "wrong in all", so they are kept
small, pure and tested on their own:

- a sample's score is its ``score`` (free text: ROUGE-L, ...) or its ``correct`` as 1/0 (choice);
- a sample is unparseable when it says so (``unparseable``: the parser's reason, or true), or,
  for multiple choice without that field, when its prediction is None (no choice was read);
- a cell (one variant's samples of one item; several under sampled chain-of-thought) shows the
  first sample's answer and the mean of the scores; it differs from another when any answer or
  the score does;
- an item is ``changed`` when an adapter's cell differs from its base model's (``better`` or
  ``worse`` by the score), ``unparseable`` when any cell is, ``wrong_all`` when every cell it
  has scored 0.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from bioinstruct.viewer.run_folder import public_settings

#: the per-item flags, as bits of an item's ``flags``
CHANGED, BETTER, WORSE, UNPARSEABLE, WRONG_ALL = 1, 2, 4, 8, 16
FLAGS = {
    "changed": CHANGED,
    "better": BETTER,
    "worse": WORSE,
    "unparseable": UNPARSEABLE,
    "wrong_all": WRONG_ALL,
}
#: sample fields shown in their own place; every other field goes into the item's details
SHOWN = frozenset({"id", "prompt", "prediction", "reference", "correct", "score", "unparseable"})
#: a prompt prefix shared by every item of a task (few-shot demonstrations) is stored once when this long
MIN_SHARED_PREFIX = 200


def text_of(value: Any) -> str | None:
    """What the page shows of a prediction or reference: a string as it is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def sample_score(sample: dict[str, Any]) -> float | None:
    """The item's score: ``score`` when it is a number, else ``correct`` as 1/0, else None."""
    value = sample.get("score")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(sample.get("correct"), bool):
        return float(sample["correct"])
    return None


def unparseable_reason(sample: dict[str, Any], kind: str | None) -> str | None:
    """Why the sample's answer could not be read, or None when it could (see the module's docstring)."""
    flag = sample.get("unparseable")
    if flag is not None:  # the scorer's word: its reason (a string), or a plain true/false
        return (flag if isinstance(flag, str) else "unparseable") if flag not in (False, "", 0) else None
    if kind == "multiple_choice" and sample.get("prediction") is None:
        return "no choice parsed"
    return None


def cell_of(samples: list[dict[str, Any]], kind: str | None) -> dict[str, Any]:
    """One variant's cell for one item from its samples (usually one; several under sampled CoT)."""
    parts = []
    for sample in samples:
        extra = {key: value for key, value in sample.items() if key not in SHOWN}
        parts.append({
            "prediction": text_of(sample.get("prediction")),
            "score": sample_score(sample),
            "unparseable": unparseable_reason(sample, kind),
            "extra": public_settings(extra) if extra else None,
        })  # fmt: skip
    scores = [part["score"] for part in parts if part["score"] is not None]
    first = parts[0]
    return {
        **first,
        "score": sum(scores) / len(scores) if scores else None,
        "unparseable": next((p["unparseable"] for p in parts if p["unparseable"]), None),
        "answers": tuple(part["prediction"] for part in parts),
        "more": parts[1:] or None,
    }


def differs(base: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two cells of one item differ in their answers or their scores."""
    if base["answers"] != other["answers"]:
        return True
    a, b = base["score"], other["score"]
    return (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > 1e-9)


def item_flags(cells: list[dict[str, Any] | None], variants: list[dict[str, Any]]) -> int:
    """The item's :data:`FLAGS` from its cells (one per variant, None where it has none)."""
    flags = 0
    for index, cell in enumerate(cells):
        base = variants[index]["base"]
        if cell is None or base is None or cells[base] is None:
            continue
        reference = cells[base]
        if differs(reference, cell):
            flags |= CHANGED
            if cell["score"] is not None and reference["score"] is not None:
                flags |= BETTER if cell["score"] > reference["score"] + 1e-9 else 0
                flags |= WORSE if cell["score"] < reference["score"] - 1e-9 else 0
    present = [cell for cell in cells if cell is not None]
    if any(cell["unparseable"] for cell in present):
        flags |= UNPARSEABLE
    if present and all(cell["score"] is not None and cell["score"] <= 0 for cell in present):
        flags |= WRONG_ALL
    return flags


def shared_prefix(prompts: list[str]) -> str:
    """The start every prompt of a task shares, up to a line end, when it is long enough to be worth
    storing once (few-shot demonstrations and instructions); else ``""``."""
    if len(prompts) < 2:
        return ""
    prefix = os.path.commonprefix(prompts)
    prefix = prefix[: prefix.rfind("\n") + 1]
    return prefix if len(prefix) >= MIN_SHARED_PREFIX else ""


__all__ = [
    "BETTER",
    "CHANGED",
    "FLAGS",
    "MIN_SHARED_PREFIX",
    "SHOWN",
    "UNPARSEABLE",
    "WORSE",
    "WRONG_ALL",
    "cell_of",
    "differs",
    "item_flags",
    "sample_score",
    "shared_prefix",
    "text_of",
    "unparseable_reason",
]
