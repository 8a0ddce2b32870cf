"""The evaluation viewer's chart: each task's headline score per variant, as inline SVG.

Why this chart: a score only means something next to the base model's and next to what guessing
gets. So each benchmark gets one bar per variant (base and adapters, one colour each, in the
legend) with its value and 95% CI whisker, the metric's name under the benchmark's, and for
multiple choice the chance level (the mean of 1/number of options, from the result's
diagnostics) drawn as a dashed line across the benchmark's bars. Horizontal bars, so a
leaderboard of nine benchmarks and long names stay readable. Drawn with the run viewer's SVG
primitives (:mod:`bioinstruct.viewer.charts`): static, painted before the script runs, every
text escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from bioinstruct.viewer.charts import AXIS, MUTED, empty_chart, svg_chart, svg_line, svg_text

PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974")
CHANCE = "#C44E52"
WIDTH = 720
_BAR, _GAP, _LEFT, _RIGHT, _TOP = 16, 16, 170, 70, 58


def colour(index: int) -> str:
    """The colour of variant ``index`` (the page's score cells use the same)."""
    return PALETTE[index % len(PALETTE)]


def swatch(index: int) -> str:
    """The CSS class of variant ``index``'s colour (``c0``...): the page's CSP allows no style attribute."""
    return f"c{index % len(PALETTE)}"


def swatch_css() -> str:
    """The rules of the :func:`swatch` classes, appended to the page's stylesheet (and its hash)."""
    return "".join(f".{swatch(i)} {{ background: {c}; }}\n" for i, c in enumerate(PALETTE))


def score_chart(view: Any) -> str:
    """One bar per (task, variant) with value labels, CI whiskers and the chance level of multiple choice."""
    title = "Scores per benchmark (headline metric, 95% CI)"
    rows = [(task, [(v, r) for v, r in enumerate(task["results"]) if r and isinstance(r["score"], int | float)])
            for task in view.tasks]  # fmt: skip
    rows = [(task, bars) for task, bars in rows if bars]
    if not rows:
        return empty_chart(title, "no scores in results.json")
    values = [r["score"] for _, bars in rows for _, r in bars]
    percent = max(values) <= 1.0  # every headline metric here is a share; anything else is drawn as is
    peak = 1.0 if percent else max(values) or 1.0
    right = WIDTH - _RIGHT

    def x_of(value: float) -> float:
        return _LEFT + (right - _LEFT) * max(0.0, min(value, peak)) / peak

    def label(value: float) -> str:
        return f"{100 * value:.1f}" if percent else f"{value:.3g}"

    body, legend_rows = _legend(view.variants)
    y = _TOP + 14 * (legend_rows - 1)
    for task, bars in rows:
        top = y
        body += [
            svg_text(_LEFT - 8, top + 12, _short(task["label"], 24), 11, "end", AXIS, ' font-weight="600"'),
            svg_text(_LEFT - 8, top + 25, task["metric"], 10, "end", MUTED),
        ]
        for v, result in bars:
            value, ci = float(result["score"]), result.get("ci")
            end = x_of(value)
            tip = f"{task['label']} · {view.variants[v]['label']}: {task['metric']} {label(value)}"
            body.append(
                f'<rect x="{_LEFT}" y="{y + 2}" width="{end - _LEFT:.1f}" height="{_BAR - 4}" '
                f'fill="{colour(v)}"><title>{escape(tip)}</title></rect>'
            )
            after = end
            if ci and all(isinstance(c, int | float) for c in ci):
                low, high = x_of(float(ci[0])), x_of(float(ci[1]))
                body += [svg_line(low, y + _BAR / 2, high, y + _BAR / 2, AXIS),
                         svg_line(low, y + 4, low, y + _BAR - 4, AXIS), svg_line(high, y + 4, high, y + _BAR - 4, AXIS)]  # fmt: skip
                after = max(after, high)
            body.append(svg_text(after + 4, y + _BAR - 4, label(value), 10, "start"))
            y += _BAR
        y = max(y, top + 30)
        chance = task.get("chance")
        if isinstance(chance, int | float) and percent:
            cx = x_of(float(chance))
            body += [
                svg_line(cx, top - 3, cx, y + 1, CHANCE, ' stroke-width="1.5" stroke-dasharray="4 3"'),
                svg_text(cx + 3, top - 4, f"chance {100 * chance:.1f}", 9, "start", CHANCE),
            ]
        y += _GAP
    bottom = y
    body += [
        svg_line(_LEFT, _TOP - 8 + 14 * (legend_rows - 1), _LEFT, bottom),
        svg_line(_LEFT, bottom, right, bottom),
    ]
    for i in range(6):
        value = peak * i / 5
        body += [svg_line(x_of(value), bottom, x_of(value), bottom + 4),
                 svg_text(x_of(value), bottom + 15, label(value) if percent else f"{value:.3g}", 9)]  # fmt: skip
    axis = "score (%)" if percent else "score"
    body.append(
        svg_text(
            (_LEFT + right) / 2, bottom + 31, f"{axis}; dashed: chance level (1 / number of options)", 11
        )
    )
    return svg_chart(title, body, height=int(bottom + 42), width=WIDTH)


def _legend(variants: list[dict[str, Any]]) -> tuple[list[str], int]:
    """A colour key per variant, wrapped onto more lines when needed; (elements, number of lines)."""
    body, x, line = [], 12.0, 0
    for v, variant in enumerate(variants):
        name = _short(variant["label"], 40)
        step = 24 + 6.2 * len(name)
        if x + step > WIDTH and x > 12:
            x, line = 12.0, line + 1
        y = 30 + 14 * line
        body += [f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{colour(v)}"/>',
                 svg_text(x + 14, y + 9, name, 10, "start")]  # fmt: skip
        x += step
    return body, line + 1


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


__all__ = ["PALETTE", "colour", "score_chart", "swatch", "swatch_css"]
