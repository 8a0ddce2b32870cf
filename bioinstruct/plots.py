"""The PNG charts that cards embed: the category mix of a dataset and the loss curve of a training run.

Why matplotlib's object API (``Figure`` + Agg canvas) and not ``pyplot``: no global backend or
figure state, so drawing a chart from a library call never opens a window, never touches the
caller's pyplot figures, and works in threads and on headless machines. The PNG metadata carries
no software version, so the same inputs give the same bytes on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError

_PNG_METADATA = {"Software": None}


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ConfigError(
            "the card charts need matplotlib, which is not installed: pip install matplotlib"
        ) from err
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata=_PNG_METADATA)
    return path


def category_mix_png(counts: Sequence[tuple[str, int]], path: str | Path, title: str = "") -> Path:
    """Horizontal bars: rows per category, with count and share written on each bar."""
    total = sum(count for _, count in counts) or 1
    from matplotlib.ticker import MaxNLocator

    figure = _figure(6.0, 0.5 * max(len(counts), 2) + 1.2)
    ax = figure.subplots()
    names = [name for name, _ in counts][::-1]
    values = [count for _, count in counts][::-1]
    bars = ax.barh(names, values, color="#4C72B0")
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:,} ({100.0 * value / total:.1f}%)",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, max(values or [1]) * 1.35 or 1)
    ax.set_xlabel("rows")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or f"Category mix ({total:,} rows)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(figure, path)


def nearest_neighbour_png(bins: Sequence[Sequence[float]], path: str | Path, threshold: float = 0.7) -> Path:
    """Bars: rows per bin of nearest-neighbour ROUGE-L at acceptance, each labelled with its count
    and share, and the similarity filter's threshold drawn as a line (what is right of it was rejected)."""
    total = sum(int(count) for _, _, count in bins) or 1
    figure = _figure(6.5, 3.4)
    ax = figure.subplots()
    centres = [(low + high) / 2 for low, high, _ in bins]
    widths = [(high - low) * 0.9 for low, high, _ in bins]
    counts = [int(count) for _, _, count in bins]
    bars = ax.bar(centres, counts, width=widths, color="#4C72B0")
    for bar, count in zip(bars, counts, strict=True):
        ax.annotate(
            f"{count:,}\n{100.0 * count / total:.0f}%",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.axvline(threshold, color="#C44E52", linestyle="--", linewidth=1)
    ax.annotate(f"filter: rejected at >= {threshold:g}", (threshold, max(counts or [1]) * 1.15), xytext=(4, 0),
                textcoords="offset points", color="#C44E52", fontsize=8, va="top")  # fmt: skip
    ax.set_ylim(0, max(counts or [1]) * 1.3 or 1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("ROUGE-L to the most similar instruction kept before it")
    ax.set_ylabel("rows")
    ax.set_title(f"Nearest-neighbour similarity ({total:,} rows)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(figure, path)


def loss_points(log_history: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """``{"train": [(step, loss)], "eval": [(step, eval_loss)]}`` from a Trainer ``log_history``."""
    points: dict[str, list[tuple[float, float]]] = {"train": [], "eval": []}
    for entry in log_history:
        step = entry.get("step")
        if not isinstance(step, int | float):
            continue
        for series, key in (("train", "loss"), ("eval", "eval_loss")):
            value = entry.get(key)
            if isinstance(value, int | float) and value == value:  # not NaN
                points[series].append((float(step), float(value)))
    return points


def loss_curve_png(log_history: Sequence[Mapping[str, Any]], path: str | Path) -> Path | None:
    """Training (and evaluation) loss against the optimiser step; None when the history has no loss."""
    points = loss_points(log_history)
    if not points["train"] and not points["eval"]:
        return None
    figure = _figure(6.0, 3.6)
    ax = figure.subplots()
    if points["train"]:
        steps, losses = zip(*points["train"], strict=True)
        ax.plot(steps, losses, label="train loss", color="#4C72B0", linewidth=1.4)
    if points["eval"]:
        steps, losses = zip(*points["eval"], strict=True)
        ax.plot(steps, losses, label="eval loss", color="#DD8452", marker="o", linewidth=1.4)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(figure, path)


def results_png(results: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Grouped bars of each benchmark's primary metric, one bar per model variant.

    ``results`` are :class:`~bioinstruct.evaluation.report.BenchmarkResult`-like objects
    (``benchmark``, ``variant``, ``primary_metric``, ``score``, ``ci``, ``diagnostics``). Every
    bar carries its value; each benchmark's tick names its metric; multiple-choice benchmarks get
    their chance level (dashed) and majority-label baseline (dotted) across their bars, so a bar
    that only matches "always answer A" is seen to.
    """
    names = list(dict.fromkeys(r.benchmark for r in results))
    variants = list(dict.fromkeys(r.variant for r in results))
    cells = {(r.benchmark, r.variant): r for r in results}
    width = 0.8 / max(len(variants), 1)
    figure = _figure(max(6.0, 1.3 * len(names) * len(variants) ** 0.5 + 2.5), 5.0)
    ax = figure.subplots()
    for v, variant in enumerate(variants):
        xs, heights, errors = [], [], [[], []]
        for b, name in enumerate(names):
            result = cells.get((name, variant))
            if result is None:
                continue
            score = 100.0 * result.score
            low, high = (100.0 * result.ci[0], 100.0 * result.ci[1]) if result.ci else (score, score)
            xs.append(b + (v - (len(variants) - 1) / 2) * width)
            heights.append(score)
            errors[0].append(max(0.0, score - low))
            errors[1].append(max(0.0, high - score))
        bars = ax.bar(xs, heights, width, yerr=errors, capsize=3, label=variant)
        for bar, height, above in zip(bars, heights, errors[1], strict=True):
            ax.annotate(  # above the error bar, so the two never overlap
                f"{height:.1f}",
                (bar.get_x() + bar.get_width() / 2, height + above),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85},
            )
    drawn: set[str] = set()
    for b, name in enumerate(names):
        diagnostics = next((r.diagnostics for r in results if r.benchmark == name and r.diagnostics), {})
        for key, style, label in (
            ("chance_baseline", "--", "chance (1/k options)"),
            ("majority_baseline", ":", "majority label"),
        ):
            if key in diagnostics:
                ax.hlines(
                    100.0 * diagnostics[key],
                    b - 0.45,
                    b + 0.45,
                    colors="#444444",
                    linestyles=style,
                    linewidth=1.2,
                    label=None if label in drawn else label,
                )
                drawn.add(label)
    metrics = {r.benchmark: r.primary_metric for r in results}
    ax.set_xticks(range(len(names)), [f"{name}\n({metrics[name]})" for name in names])
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(4, len(variants) + 2))
    ax.set_title(title or "bioinstruct evaluation (95% bootstrap CI)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(figure, path)
