"""The static parts of the evaluation viewer's page: the header, the score table, notes and settings.

Why static HTML written here: like the run viewer's header, these are painted with the first bytes
of the file, before the script has read the items, so the page says at once what was evaluated
(models, adapters, benchmarks, protocols) and how it scored. Every value goes through
:func:`html.escape`. The score table's "changed" counts are buttons the page's script wires to
the item filters (benchmark + changed by the adapter).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from bioinstruct.viewer.eval_charts import swatch
from bioinstruct.viewer.eval_gather import EvalView


def _fact(key: str, label: str, value: str) -> str:
    return f'<div class="fact fact-{key}"><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>'


def header_html(view: EvalView) -> str:
    """Models, adapters (with their folders), benchmarks, protocols, templates, shots and item counts."""
    h = view.header
    adapters = ", ".join(f"{name} ({path})" if path else name for name, path in h["adapters"].items())
    facts = [
        ("models", "model" if len(h["models"]) == 1 else "models", ", ".join(h["models"]) or "none"),
        ("adapters", "adapters", adapters or "none (base model only)"),
        ("benchmarks", "benchmarks", ", ".join(h["benchmarks"]) or "none"),
        ("protocols", "protocols", ", ".join(h["protocols"]) or "unknown"),
        ("templates", "template", ", ".join(h["templates"]) or "unknown"),
        ("shots", "few-shot", ", ".join(str(n) for n in h["shots"]) or "unknown"),
        ("items", "items", f"{h['items']:,}"),
    ]
    if h["adapters"]:
        facts.append(("changed", "changed by an adapter", f"{h['changed']:,}"))
    return f'<dl class="facts">{"".join(_fact(*fact) for fact in facts)}</dl>' + notes_html(view)


def notes_html(view: EvalView) -> str:
    """What could not be shown, the benchmarks skipped, and the results' warnings (one list each)."""
    lists = [
        ("notes", view.notes),
        ("skipped", [f"{name}: skipped ({reason})" for name, reason in view.skipped.items()]),
        ("warnings", view.warnings),
    ]
    return "".join(
        f'<ul class="notes {cls}">' + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"
        for cls, lines in lists
        if lines
    )


def _number(value: Any, percent: bool) -> str:
    if not isinstance(value, int | float):
        return "–"
    return f"{100 * value:.1f}" if percent else f"{value:.3g}"


def _score_cell(task: dict[str, Any], result: dict[str, Any] | None, base: dict[str, Any] | None) -> str:
    if result is None:
        return '<td class="num muted">–</td>'
    score, ci = result["score"], result["ci"]
    percent = not isinstance(score, int | float) or score <= 1.0
    text = _number(score, percent)
    if ci:
        text += f" [{_number(ci[0], percent)}, {_number(ci[1], percent)}]"
    lines = [f'<span class="score">{escape(text)}</span>']
    if base is not None and isinstance(score, int | float) and isinstance(base["score"], int | float):
        delta = (score - base["score"]) * (100 if percent else 1)
        sign = "up" if delta > 0 else "down" if delta < 0 else "same"
        lines.append(f'<span class="delta {sign}">Δ {delta:+.1f}</span>')
    if result.get("unparseable"):
        lines.append(f'<span class="unparseable-count">{result["unparseable"]:,} unparseable</span>')
    others = {k: v for k, v in result["metrics"].items() if k != task["metric"]}
    tip = ", ".join(f"{k} {_number(v, v <= 1.0)}" for k, v in others.items())
    title = f' title="{escape(tip, quote=True)}"' if tip else ""
    return f'<td class="num"{title}>' + "<br>".join(lines) + "</td>"


def scores_html(view: EvalView) -> str:
    """One row per task: metric, items, chance level, each variant's score [CI] (Δ vs its base) and
    unparseable count, and the number of items an adapter changed (a button filtering to them)."""
    if not view.tasks:
        return '<p class="muted">No results in results.json.</p>'
    has_adapter = any(v["base"] is not None for v in view.variants)
    heads = "".join(
        f'<th scope="col"><span class="swatch {swatch(i)}"></span>{escape(v["label"])}</th>'
        for i, v in enumerate(view.variants)
    )
    rows = []
    for t, task in enumerate(view.tasks):
        cells = "".join(
            _score_cell(task, result, task["results"][view.variants[v]["base"]] if view.variants[v]["base"] is not None else None)
            for v, result in enumerate(task["results"])
        )  # fmt: skip
        changed = (
            f'<td class="num"><button type="button" class="changed-link" data-task="{t}">'
            f"{task['changed']:,}</button></td>"
            if has_adapter
            else ""
        )
        rows.append(
            f'<tr><th scope="row">{escape(task["benchmark"])}</th><td>{escape(task["protocol"])}</td>'
            f'<td>{escape(task["metric"])}</td><td class="num">{task["items"]:,}</td>'
            f'<td class="num">{escape(_number(task["chance"], True))}</td>{cells}{changed}</tr>'
        )
    changed_head = '<th scope="col">changed by the adapter</th>' if has_adapter else ""
    return (
        '<table class="scores"><caption>Scores (%, 95% bootstrap CI in brackets; Δ: adapter minus its base, '
        "in points)</caption><thead><tr><th>benchmark</th><th>protocol</th><th>metric</th><th>items</th>"
        f"<th>chance</th>{heads}{changed_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def settings_html(view: EvalView) -> str:
    """evaluate.yaml and each task's protocol, credentials left out."""
    return f"<pre>{escape(json.dumps(view.settings, indent=2, ensure_ascii=False, default=str))}</pre>"


__all__ = ["header_html", "notes_html", "scores_html", "settings_html"]
