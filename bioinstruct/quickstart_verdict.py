"""Did tuning change the model? The quickstart's verdict and checks, from a saved evaluation.

Why its own module: a before/after table invites reading a gain into noise, an "always A" answer
or empty outputs. The verdict compares adapter and base on the same items with a paired bootstrap
of the per-item differences (the held-out set is small, so its CI is wide) and says plainly when
the difference is within it; the checks put every number next to what a constant or empty answer
would score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

RESAMPLES = 2000


def _results(eval_dir: Path) -> list[Any]:
    from bioinstruct.evaluation.report import EvalResults

    return list(EvalResults.load(eval_dir).results)


def paired_difference(base: list[float], tuned: list[float], seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``tuned - base`` over the same items and its 95% bootstrap interval."""
    diffs = np.asarray(tuned, dtype=float) - np.asarray(base, dtype=float)
    if diffs.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, diffs.size, size=(RESAMPLES, diffs.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diffs.mean()), float(low), float(high)


def _per_item(result: Any) -> dict[str, float]:
    scores = {}
    for sample in result.samples:
        if "score" in sample:
            scores[str(sample["id"])] = float(sample["score"])
        elif "correct" in sample:
            scores[str(sample["id"])] = float(sample["correct"])
    return scores


def verdict_lines(eval_dir: Path) -> list[str]:
    """One line per benchmark: adapter minus base, its paired 95% CI, and whether it is a difference."""
    results = _results(eval_dir)
    lines = []
    for bench in dict.fromkeys(r.benchmark for r in results):
        base = next((r for r in results if r.benchmark == bench and r.adapter is None), None)
        tuned = next((r for r in results if r.benchmark == bench and r.adapter is not None), None)
        if base is None or tuned is None:
            continue
        a, b = _per_item(base), _per_item(tuned)
        ids = sorted(set(a) & set(b))
        metric = base.primary_metric
        if not ids:
            lines.append(
                f"- {bench}: base {base.score:.3f} vs adapter {tuned.score:.3f} {metric} (no per-item scores)"
            )
            continue
        mean, low, high = paired_difference([a[i] for i in ids], [b[i] for i in ids])
        if low > 0 or high < 0:
            word = "higher" if mean > 0 else "lower"
            verdict = f"the adapter is {word}, beyond the 95% CI of the difference"
        else:
            verdict = (
                "NO difference beyond the 95% CI: on these items tuning did not measurably change the model"
            )
        lines.append(
            f"- {bench} ({metric}, {len(ids)} items): base {base.score:.3f}, adapter {tuned.score:.3f}; "
            f"adapter - base = {mean:+.3f} [95% CI {low:+.3f}, {high:+.3f}]: {verdict}"
        )
    return lines or ["- no benchmark was scored for both the base and the adapter"]


def checks(eval_dir: Path) -> list[str]:
    """Empty/degenerate outputs of free-text results; chance and majority level of multiple choice."""
    lines = []
    for r in _results(eval_dir):
        d = r.diagnostics or {}
        if "empty_share" in d:
            lines.append(
                f"- {r.benchmark} ({r.variant}): {100 * d['empty_share']:.0f}% empty, "
                f"{100 * d['degenerate_share']:.0f}% degenerate (repeated n-grams), "
                f"{d['distinct_predictions']} distinct of {r.n} outputs"
            )
        elif "chance_baseline" in d:
            top = d.get("top_prediction")
            lines.append(
                f"- {r.benchmark} ({r.variant}): accuracy {100 * r.score:.1f}% vs chance "
                f"{100 * d['chance_baseline']:.1f}% and majority '{d['majority_label']}' "
                f"{100 * d['majority_baseline']:.1f}%; {100 * d['top_prediction_share']:.0f}% of answers are {top!r}"
            )
        lines += [f"  - warning: {w}" for w in r.warnings]
    return lines or ["- nothing to check"]
