"""Run-level diversity evidence: how far apart the kept instructions are, and how varied their tasks.

Why: self-instruct's filter only guarantees each row is below ROUGE-L 0.7 to every other; a dataset
can still pile up just under the threshold or repeat one kind of task ("Summarize ...") thousands
of times. The summary answers that from what each row already carries: the distribution of each
row's nearest-neighbour ROUGE-L at acceptance (``most_similar.score``), the leading words of the
instructions (a proxy for the task verb, as in the self-instruct paper's verb-noun analysis), and
the category counts. It goes into run.json (``diversity``) and, with a chart, into the dataset card.
"""

from __future__ import annotations

import bisect
import itertools
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bioinstruct.schemas import CATEGORIES

#: Bin edges of the nearest-neighbour ROUGE-L histogram; the filter rejects at >= 0.7.
BIN_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)
TOP_WORDS = 10
_WORD = re.compile(r"[a-z][a-z'-]*")


def leading_word(instruction: str) -> str | None:
    """The first word of an instruction, lower-cased (``"Summarize"`` for "Summarize the note ...")."""
    match = _WORD.search(instruction.strip().lower())
    return match.group(0) if match else None


def diversity_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Nearest-neighbour ROUGE-L distribution, leading words and categories of ``rows``."""
    scores = [
        float(row["most_similar"]["score"])
        for row in rows
        if isinstance(row.get("most_similar"), dict)
        and isinstance(row["most_similar"].get("score"), int | float)
    ]
    last = len(BIN_EDGES) - 2  # a score of exactly 1.0 falls into the last bin
    counts = Counter(min(bisect.bisect_right(BIN_EDGES, score) - 1, last) for score in scores if score >= 0)
    bins = [[low, high, counts.get(i, 0)] for i, (low, high) in enumerate(itertools.pairwise(BIN_EDGES))]
    words = Counter(word for row in rows if (word := leading_word(str(row.get("instruction") or ""))))
    categories = Counter(str(row.get("category")) for row in rows)
    return {
        "rows": len(rows),
        "nearest_neighbour_rouge_l": {
            "rows": len(scores),
            "mean": round(statistics.fmean(scores), 4) if scores else None,
            "median": round(statistics.median(scores), 4) if scores else None,
            "p90": round(statistics.quantiles(scores, n=10)[-1], 4) if len(scores) >= 2 else None,
            "bins": bins,
        },
        "leading_words": {
            "distinct": len(words),
            "top": [[word, count] for word, count in words.most_common(TOP_WORDS)],
        },
        "categories": {name: categories.get(name, 0) for name in CATEGORIES}
        | {name: count for name, count in sorted(categories.items()) if name not in CATEGORIES},
    }


__all__ = ["BIN_EDGES", "diversity_summary", "leading_word"]
