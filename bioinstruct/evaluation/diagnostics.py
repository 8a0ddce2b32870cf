"""What a score means: the baselines it must beat and the signs that a model is not answering.

Why this exists: on SmolLM2-135M-Instruct every default-template accuracy equalled a
constant-answer baseline (MedQA "always A" 31.6, PubMedQA "always yes" 54.1, BioASQ 132 of 133
"yes"), and a quickstart reported ROUGE-L 0.0 vs 0.0 with every prediction empty, with nothing
saying so. Each result therefore carries:

* multiple choice: the prediction distribution, the chance baseline (mean of 1/k over items,
  k the number of options: 1/4 for MedQA, 1/3 for PubMedQA yes/no/maybe, 1/2 for BioASQ yes/no),
  the majority baseline (share of the most frequent gold label) and a ``constant`` flag when one
  answer makes up at least :data:`CONSTANT_SHARE` of the predictions;
* free text: the share of empty predictions and of degenerate ones (a few words repeated over and
  over, or one character run), which score ~0 whatever the model learnt.

All functions are pure, so the evaluator, the report, the quickstart and cards compute the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

#: A benchmark whose most frequent prediction reaches this share is flagged as (nearly) constant.
CONSTANT_SHARE = 0.9
UNPARSEABLE = "(unparseable)"
_NGRAM = 3
_MIN_WORDS = 8
_DISTINCT_NGRAMS = 0.5  # below this share of distinct word 3-grams a text is a loop
_MIN_CHARS = 20
_DISTINCT_CHAR_NGRAMS = 0.2


def choice_diagnostics(
    predictions: Sequence[str | None], golds: Sequence[str], n_options: Sequence[int]
) -> dict[str, Any]:
    """Prediction distribution and baselines of one multiple-choice result.

    ``predictions`` are the predicted labels (None: unparseable), ``golds`` the gold labels and
    ``n_options`` the number of options of each item.
    """
    n = len(golds)
    counts = Counter(UNPARSEABLE if p is None else str(p) for p in predictions)
    gold_counts = Counter(str(g) for g in golds)
    majority_label, majority_count = gold_counts.most_common(1)[0] if n else (None, 0)
    top_label, top_count = counts.most_common(1)[0] if n else (None, 0)
    top_share = top_count / n if n else 0.0
    return {
        "prediction_distribution": dict(counts.most_common()),
        "gold_distribution": dict(gold_counts.most_common()),
        "chance_baseline": sum(1.0 / k for k in n_options if k) / n if n else 0.0,
        "majority_baseline": majority_count / n if n else 0.0,
        "majority_label": majority_label,
        "top_prediction": top_label,
        "top_prediction_share": top_share,
        "constant": bool(n) and top_share >= CONSTANT_SHARE,
    }


def is_degenerate(text: str) -> bool:
    """A loop: few distinct word 3-grams (``"the cell the cell the cell ..."``) or one character run."""
    words = text.split()
    if len(words) >= _MIN_WORDS:
        grams = [tuple(words[i : i + _NGRAM]) for i in range(len(words) - _NGRAM + 1)]
        if len(set(grams)) / len(grams) < _DISTINCT_NGRAMS:
            return True
    compact = "".join(words)
    if len(compact) >= _MIN_CHARS:
        grams5 = [compact[i : i + 5] for i in range(len(compact) - 4)]
        return len(set(grams5)) / len(grams5) < _DISTINCT_CHAR_NGRAMS
    return False


def text_diagnostics(predictions: Sequence[Any]) -> dict[str, Any]:
    """Share of empty and of degenerate free-text predictions (non-strings count as their JSON text)."""
    texts = [p if isinstance(p, str) else ("" if p is None else str(p)) for p in predictions]
    n = len(texts)
    empty = sum(1 for t in texts if not t.strip())
    degenerate = sum(1 for t in texts if t.strip() and is_degenerate(t))
    distinct = len({t.strip() for t in texts})
    return {
        "empty": empty,
        "empty_share": empty / n if n else 0.0,
        "degenerate": degenerate,
        "degenerate_share": degenerate / n if n else 0.0,
        "distinct_predictions": distinct,
        "constant": n > 1 and distinct == 1,
    }


def warnings_for(benchmark: str, variant: str, diagnostics: dict[str, Any], n: int) -> list[str]:
    """One line per problem a reader of the numbers must know about (empty when none)."""
    lines = []
    if diagnostics.get("constant") and diagnostics.get("top_prediction") == UNPARSEABLE:
        lines.append(
            f"{benchmark} ({variant}): {100 * diagnostics['top_prediction_share']:.0f}% of answers name no "
            "choice (unparseable, counted wrong); try another --template or the log-likelihood protocol"
        )
    elif "top_prediction_share" in diagnostics and diagnostics.get("constant"):
        lines.append(
            f"{benchmark} ({variant}): {100 * diagnostics['top_prediction_share']:.0f}% of predictions are "
            f"{diagnostics['top_prediction']!r}; the accuracy is close to a constant answer's "
            f"(majority baseline {100 * diagnostics['majority_baseline']:.1f}%, chance "
            f"{100 * diagnostics['chance_baseline']:.1f}%)"
        )
    if "empty_share" in diagnostics:
        bad = diagnostics["empty"] + diagnostics["degenerate"]
        if bad and bad >= n / 2:
            lines.append(
                f"{benchmark} ({variant}): {diagnostics['empty']} of {n} predictions empty and "
                f"{diagnostics['degenerate']} degenerate (repeated n-grams); the score says little"
            )
        elif diagnostics.get("constant"):
            lines.append(f"{benchmark} ({variant}): all {n} predictions are the same text")
    return lines


__all__ = [
    "CONSTANT_SHARE",
    "UNPARSEABLE",
    "choice_diagnostics",
    "is_degenerate",
    "text_diagnostics",
    "warnings_for",
]
