"""The run viewer's charts, drawn here as inline SVG text.

Why SVG from Python rather than a chart library in the page: the page must open from disk with
no network (no CDN), and static SVG is painted with the first bytes of the page, before the script
has parsed 100k rows. Every chart has a title, named axes and value labels; every piece of text
in it goes through :func:`html.escape` (category and rule names come from the run's files).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 420, 250
KEPT, REJECTED, LINE, AXIS, MUTED = "#4C72B0", "#C44E52", "#2F7D4F", "#444", "#888"
_FONT = 'font-family="system-ui, sans-serif"'


def svg_chart(title: str, body: list[str], height: int = HEIGHT, width: int = WIDTH) -> str:
    """One chart: an ``<svg>`` with ``title`` as its accessible name and heading, then ``body``."""
    label = escape(title, quote=True)
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}" {_FONT}>'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def svg_text(
    x: float, y: float, text: str, size: int = 10, anchor: str = "middle", fill: str = AXIS, extra: str = ""
) -> str:
    """A ``<text>`` element; ``text`` is escaped, ``extra`` is trusted attribute text."""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(text)}</text>"
    )


def svg_line(x1: float, y1: float, x2: float, y2: float, stroke: str = AXIS, extra: str = "") -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>'


def empty_chart(title: str, message: str) -> str:
    return svg_chart(title, [svg_text(WIDTH / 2, HEIGHT / 2, message, 12, fill=MUTED)])


def bar_chart(title: str, bars: Sequence[tuple[str, int]], axis_label: str, colour: str = KEPT) -> str:
    """Horizontal bars, one per label, each with its count and share written after it."""
    if not bars or not sum(count for _, count in bars):
        return empty_chart(title, f"no {axis_label} yet")
    total = sum(count for _, count in bars)
    left, right, top, row = 130, WIDTH - 90, 34, 22
    height = max(HEIGHT, top + row * len(bars) + 40)
    peak = max(count for _, count in bars) or 1
    body = []
    for i, (name, count) in enumerate(bars):
        y = top + i * row
        width = (right - left) * count / peak
        shown = name if len(name) <= 20 else name[:19] + "…"
        body += [
            svg_text(left - 6, y + 14, shown, 11, "end"),
            f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{escape(name)}: {count:,}</title></rect>",
            svg_text(left + width + 4, y + 14, f"{count:,} ({100 * count / total:.1f}%)", 10, "start"),
        ]
    axis_y = top + row * len(bars) + 4
    body += [
        svg_line(left, top, left, axis_y),
        svg_line(left, axis_y, right, axis_y),
        svg_text(left, axis_y + 14, "0", 9),
        svg_text(right, axis_y + 14, f"{peak:,}", 9),
        svg_text((left + right) / 2, axis_y + 28, f"{axis_label} (total {total:,})", 11),
    ]
    return svg_chart(title, body, height)


def histogram(
    title: str, bins: Sequence[tuple[float, float, int, int]], threshold: float, x_label: str, y_label: str
) -> str:
    """Stacked vertical bars (kept below, rejected on top) with each bar's total above it, and the
    similarity threshold as a dashed line."""
    if not bins or not sum(kept + rejected for _, _, kept, rejected in bins):
        return empty_chart(title, "no similarity scores yet")
    left, right, top, bottom = 50, WIDTH - 15, 46, HEIGHT - 45
    peak = max(kept + rejected for _, _, kept, rejected in bins) or 1

    def x_of(value: float) -> float:
        return left + (right - left) * value

    def h_of(count: int) -> float:
        return (bottom - top - 14) * count / peak

    body = []
    for low, high, kept, rejected in bins:
        x, width = x_of(low) + 1, x_of(high) - x_of(low) - 2
        tip = f"ROUGE-L {low:.1f}-{high:.1f}: {kept:,} kept, {rejected:,} rejected"
        for count, colour, base in ((kept, KEPT, 0), (rejected, REJECTED, kept)):
            if count:
                body.append(
                    f'<rect x="{x:.1f}" y="{bottom - h_of(base + count):.1f}" width="{width:.1f}" '
                    f'height="{h_of(count):.1f}" fill="{colour}"><title>{escape(tip)}</title></rect>'
                )
        body.append(svg_text(x + width / 2, bottom - h_of(kept + rejected) - 3, f"{kept + rejected:,}", 9))
    tx = x_of(threshold)
    body += [
        svg_line(tx, top - 6, tx, bottom, REJECTED, ' stroke-dasharray="4 3"'),
        svg_text(tx + 4, top + 4, f"threshold {threshold:g}", 10, "start", REJECTED),
        svg_line(left, bottom, right, bottom),
        svg_line(left, top, left, bottom),
        svg_text(left - 4, bottom, "0", 9, "end"),
        svg_text(left - 4, top + 14, f"{peak:,}", 9, "end"),
        *[svg_text(x_of(t / 10), bottom + 12, f"{t / 10:.1f}", 9) for t in range(0, 11, 2)],
        svg_text((left + right) / 2, bottom + 28, x_label, 11),
        svg_text(
            14, (top + bottom) / 2, y_label, 11, extra=f' transform="rotate(-90 14 {(top + bottom) / 2})"'
        ),
        f'<rect x="{left + 10}" y="26" width="9" height="9" fill="{KEPT}"/>',
        svg_text(left + 23, 34, "kept or pending", 9, "start"),
        f'<rect x="{left + 105}" y="26" width="9" height="9" fill="{REJECTED}"/>',
        svg_text(left + 118, 34, "rejected by similarity", 9, "start"),
    ]
    return svg_chart(title, body)


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit a time axis of ``seconds`` reads best in, and its size in seconds."""
    if seconds < 120:
        return "seconds", 1.0
    if seconds < 3 * 3600:
        return "minutes", 60.0
    return "hours", 3600.0


def line_chart(
    title: str, seconds: Sequence[float], ys: Sequence[float], y_label: str, fmt: Callable[[float], str]
) -> str:
    """A cumulative curve from (0, 0) over time since the run's first event, its final value written at its end."""
    if not seconds:
        return empty_chart(title, "no replies yet")
    unit, size = time_unit(seconds[-1])
    xs, ys = [0.0, *(s / size for s in seconds)], [0, *ys]
    x_label = f"{unit} since the first journal event"
    left, right, top, bottom = 62, WIDTH - 60, 34, HEIGHT - 45
    x_max, y_max = max(xs[-1], 1e-9), max(max(ys), 1e-12)

    def point(x: float, y: float) -> str:
        return f"{left + (right - left) * x / x_max:.1f},{bottom - (bottom - top) * y / y_max:.1f}"

    path = " ".join(point(x, y) for x, y in zip(xs, ys, strict=True))
    end_x, end_y = (float(v) for v in point(xs[-1], ys[-1]).split(","))
    return svg_chart(
        title,
        [
            f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>',
            f'<circle cx="{end_x:.1f}" cy="{end_y:.1f}" r="3" fill="{LINE}"/>',
            svg_text(end_x + 5, end_y + 4, fmt(ys[-1]), 10, "start", LINE),
            svg_line(left, bottom, right, bottom),
            svg_line(left, top, left, bottom),
            svg_text(left - 4, bottom, fmt(0), 9, "end"),
            svg_text(left - 4, (top + bottom) / 2 + 3, fmt(y_max / 2), 9, "end"),
            svg_text(left - 4, top + 6, fmt(y_max), 9, "end"),
            svg_text(left, bottom + 12, "0", 9),
            svg_text(right, bottom + 12, f"{x_max:.3g}", 9),
            svg_text((left + right) / 2, bottom + 28, x_label, 11),
            svg_text(
                12, (top + bottom) / 2, y_label, 11, extra=f' transform="rotate(-90 12 {(top + bottom) / 2})"'
            ),
        ],
    )


def count_text(value: float) -> str:
    """``950``, ``12.3k``, ``4.56M``: short enough for an axis label."""
    value = float(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def dollars(value: float) -> str:
    """``$12.35``, ``$0.0013``: cents above ten dollars, two significant digits below."""
    return f"${value:,.2f}" if value >= 10 else f"${value:.2g}" if value else "$0"


def similarity_bins(items: Sequence[dict[str, Any]], bins: int = 10) -> list[tuple[float, float, int, int]]:
    """ROUGE-L to the nearest neighbour in ``bins`` equal bins over [0, 1]: (low, high, kept, rejected).

    Kept counts rows and pending candidates; rejected counts the similarity filter's rejections."""
    counts = [[0, 0] for _ in range(bins)]
    for item in items:
        similar, status = item.get("most_similar"), item["status"]
        if not similar or not isinstance(similar.get("score"), int | float):
            continue
        if status in ("kept", "pending"):
            column = 0
        elif status == "rejected" and item["rule"] == "similarity":
            column = 1
        else:
            continue
        counts[min(int(float(similar["score"]) * bins), bins - 1)][column] += 1
    return [(i / bins, (i + 1) / bins, kept, rejected) for i, (kept, rejected) in enumerate(counts)]


def run_charts(view: Any) -> list[str]:
    """The viewer's charts for a :class:`~bioinstruct.viewer.gather.RunView`, as SVG strings."""
    from bioinstruct.schemas import CATEGORIES

    kept = [item for item in view.items if item["status"] == "kept"]
    categories = {name: 0 for name in CATEGORIES}
    for item in kept:
        categories[item["category"] or "(none)"] = categories.get(item["category"] or "(none)", 0) + 1
    series = view.series
    return [
        bar_chart("Category mix of kept rows", list(categories.items()), "kept rows"),
        histogram(
            "Nearest-neighbour ROUGE-L",
            similarity_bins(view.items),
            view.threshold,
            "ROUGE-L to the most similar instruction",
            "candidates",
        ),
        bar_chart("Rejections by rule", sorted(view.rules.items(), key=lambda kv: -kv[1]), "rejected candidates", REJECTED),
        line_chart("Requests answered (cumulative)", series["seconds"], series["requests"], "replies", count_text),
        line_chart("Tokens (cumulative)", series["seconds"], series["tokens"], "prompt + completion tokens", count_text),
        line_chart("Cost (cumulative)", series["seconds"], series["cost_usd"], "US dollars", dollars),
    ]  # fmt: skip


__all__ = [
    "bar_chart",
    "empty_chart",
    "histogram",
    "line_chart",
    "run_charts",
    "similarity_bins",
    "svg_chart",
    "svg_line",
    "svg_text",
]
