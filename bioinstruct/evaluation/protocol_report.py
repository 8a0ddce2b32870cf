"""The report's protocol dimension: unparseable counts, benchmarks run under several protocols,
and "loglik vs CoT", the gap per benchmark and model variant with a paired bootstrap interval.

Why paired: both protocols score the same items in one call, so the uncertainty of their
difference is much smaller than the two intervals side by side suggest (the items a model finds
hard are hard under both). The interval resamples items and takes the mean of (CoT correct −
loglik correct) per item; it needs the per-item samples, so a results.json read without its
samples files shows the gap without an interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The pair of protocols compared, in the order (baseline, the other).
PAIR = ("loglik", "cot")


def protocol_gaps(results: Sequence[Any], pair: tuple[str, str] = PAIR) -> list[dict[str, Any]]:
    """One entry per (benchmark, model, adapter) scored under both protocols of ``pair``."""
    from bioinstruct.benchmarks import metrics as metric_fns  # numpy, imported only when reporting

    base, other = pair
    by_key = {(r.benchmark, r.model, r.adapter, r.protocol_name): r for r in results}
    gaps = []
    for first in results:
        if first.protocol_name != base:
            continue
        second = by_key.get((first.benchmark, first.model, first.adapter, other))
        if second is None:
            continue
        paired = _paired(first.samples, second.samples)
        ci = metric_fns.bootstrap_ci([b - a for a, b in paired]) if paired else None
        gaps.append(
            {
                "benchmark": first.benchmark,
                "model": first.model,
                "adapter": first.adapter,
                "metric": first.primary_metric,
                base: first.score,
                other: second.score,
                "gap": second.score - first.score,
                "gap_ci": list(ci) if ci else None,
                "paired_items": len(paired),
                "unparseable": second.unparseable,
                "n": second.n,
                "agreement": second.diagnostics.get("cot_agreement"),
            }
        )
    return gaps


def _paired(first: Sequence[dict], second: Sequence[dict]) -> list[tuple[float, float]]:
    """(correct under the first, correct under the second) for each item id both scored."""
    seconds = {s["id"]: s for s in second if isinstance(s.get("correct"), bool)}
    return [
        (float(s["correct"]), float(seconds[s["id"]]["correct"]))
        for s in first
        if isinstance(s.get("correct"), bool) and s["id"] in seconds
    ]


def unparseable_line(result: Any) -> str:
    """ "12 of 100 answers unparseable (counted wrong), 12.0%" and, for sampled CoT, the agreement."""
    share = 100 * (result.unparseable or 0) / result.n if result.n else 0.0
    line = f"{result.unparseable} of {result.n} answers unparseable (counted wrong), {share:.1f}%"
    d = result.diagnostics
    if "cot_agreement" in d:
        k = (result.protocol.get("cot") or {}).get("samples") or 0
        line += f"; {d.get('cot_unparseable_samples')} of {k * result.n} sampled replies ({k} per item) unparseable"
        line += f"; mean agreement with the vote {100 * d['cot_agreement']:.1f}%"
    return line


def multi_protocol(results: Sequence[Any]) -> set[str]:
    """The benchmarks on which one variant was scored under more than one protocol (those get a row
    per protocol; results combined from runs that differ in protocol per variant keep one row)."""
    seen: dict[tuple[str, str, Any], set[str]] = {}
    for r in results:
        seen.setdefault((r.benchmark, r.model, r.adapter), set()).add(r.protocol_name)
    return {name for (name, _, _), protocols in seen.items() if len(protocols) > 1}


def _points(value: float, signed: bool = False) -> str:
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def gap_table(results: Sequence[Any]) -> list[str]:
    """The markdown lines of the "loglik vs CoT" table (none when no result has both protocols)."""
    gaps = protocol_gaps(results)
    if not gaps:
        return []
    cells = {(r.benchmark, r.model, r.adapter, r.protocol_name): r for r in results}
    sampled = any(gap["agreement"] is not None for gap in gaps)
    lines = [
        "",
        "loglik vs CoT (accuracy in %, each with its 95% CI; gap = CoT − loglik in points, with the 95% "
        "paired bootstrap CI over the same items):",
        "",
        "| benchmark | variant | loglik | CoT | gap | CoT unparseable |"
        + (" agreement |" if sampled else ""),
        "|---|---|---:|---:|---:|---:|" + ("---:|" if sampled else ""),
    ]
    for gap in gaps:
        key = (gap["benchmark"], gap["model"], gap["adapter"])
        first, second = cells[(*key, PAIR[0])], cells[(*key, PAIR[1])]
        interval = gap["gap_ci"]
        text = _points(gap["gap"], signed=True)
        if interval:
            text += f" [{_points(interval[0], True)}, {_points(interval[1], True)}]"
        unparseable = gap["unparseable"] or 0
        row = (
            f"| {gap['benchmark']} | {first.variant} | {_with_ci(first)} | {_with_ci(second)} | {text} | "
            f"{unparseable} of {gap['n']} ({_points(unparseable / gap['n'] if gap['n'] else 0.0)}%) |"
        )
        if sampled:
            agreement = gap["agreement"]
            row += f" {_points(agreement) + '%' if agreement is not None else '–'} |"
        lines.append(row)
    return lines


def _with_ci(result: Any) -> str:
    text = _points(result.score)
    if result.ci is not None:
        text += f" [{_points(result.ci[0])}, {_points(result.ci[1])}]"
    return text


__all__ = ["PAIR", "gap_table", "multi_protocol", "protocol_gaps", "unparseable_line"]
