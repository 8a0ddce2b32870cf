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
