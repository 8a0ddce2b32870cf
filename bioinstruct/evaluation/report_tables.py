"""The markdown tables of an evaluation report beyond the scores: baselines and prediction checks, the judge.

Why apart from ``report``: ``EvalResults`` is the data and its files; these are views of it, each a
function of the results alone (the loglik-vs-CoT table is in ``protocol_report``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bioinstruct.evaluation.report import BenchmarkResult


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _distribution(counts: dict[str, int]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counts.items())


def checks_table(results: list[BenchmarkResult], several: Collection[str] = ()) -> list[str]:
    """Baselines and prediction checks, one row per (benchmark[, protocol], variant)."""

    def name(r: BenchmarkResult) -> str:
        return f"{r.benchmark} ({r.protocol_name})" if r.benchmark in several else r.benchmark

    choice = [r for r in results if "chance_baseline" in r.diagnostics]
    text = [r for r in results if "empty_share" in r.diagnostics]
    lines: list[str] = []
    if choice:
        lines += [
            "",
            "Multiple choice: baselines (%) and what the model predicted:",
            "",
            "| benchmark | variant | score | chance | majority (label) | predictions | conflicts |",
            "|---|---|---:|---:|---:|---|---:|",
        ]
        for r in choice:
            d = r.diagnostics
            lines.append(
                f"| {name(r)} | {r.variant} | {_percent(r.score)} | {_percent(d['chance_baseline'])} | "
                f"{_percent(d['majority_baseline'])} ({d['majority_label']}) | "
                f"{_distribution(d['prediction_distribution'])} | {d.get('letter_text_conflicts', '–')} |"
            )
    if text:
        lines += [
            "",
            "Free text: empty and degenerate (repeated n-grams) predictions (% of items):",
            "",
            "| benchmark | variant | score | empty | degenerate | distinct |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in text:
            d = r.diagnostics
            lines.append(
                f"| {name(r)} | {r.variant} | {_percent(r.score)} | {_percent(d['empty_share'])} | "
                f"{_percent(d['degenerate_share'])} | {d['distinct_predictions']} of {r.n} |"
            )
    return lines


def judge_table(results: list[BenchmarkResult]) -> list[str]:
    """LLM-judge means (1-5) with the number of items they stand on."""
    judged = [r for r in results if "judge_n" in r.metrics]
    if not judged:
        return []
    axes = list(dict.fromkeys(axis for r in judged for axis in r.judge_metrics))
    lines = [
        "",
        "LLM judge (mean score 1-5 over the scored items):",
        "",
        "| benchmark | variant | " + " | ".join(axes) + " | scored | unscored | copied example |",
        "|---|---|" + "---:|" * (len(axes) + 3),
    ]
    for r in judged:
        means = [f"{r.metrics[a]:.2f}" if a in r.metrics else "–" for a in axes]
        lines.append(
            f"| {r.benchmark} | {r.variant} | " + " | ".join(means) + f" | {int(r.metrics['judge_n'])} | "
            f"{int(r.metrics.get('judge_unscored', 0))} | {int(r.metrics.get('judge_copied_example', 0))} |"
        )
    return lines
