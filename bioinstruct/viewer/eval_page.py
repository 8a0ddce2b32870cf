"""The evaluation viewer's one HTML file: ``eval.html`` with its style, script, chart and data.

Why the same construction as the run viewer (:mod:`bioinstruct.viewer.document`): the page is one
file opened from disk with no network, model predictions are untrusted text (a model may well
write ``</script>``), and an evaluation can have 10k+ items per variant. So the data is escaped
JSON in ``<script type="application/json">``, the script draws with ``textContent`` under a CSP
that allows only its own script and style, the first page of items comes in a small block drawn
before the rest is read, and the file is written atomically piece by piece.

Each item is one JSON array (:data:`FIELDS`) and each of its cells one array (:data:`CELL`), not
objects: 10k items x several variants would otherwise repeat every key tens of thousands of times.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bioinstruct.viewer.document import (
    DEFAULT_NAME,
    asset,
    fill_template,
    json_array_chunks,
    page_script,
    page_style,
    script_json,
    standard_parts,
    write_page,
)
from bioinstruct.viewer.eval_charts import score_chart, swatch_css
from bioinstruct.viewer.eval_gather import FLAGS, EvalView, gather_eval
from bioinstruct.viewer.eval_sections import header_html, scores_html, settings_html

FIELDS = ("task", "id", "prompt", "reference", "cells", "flags")
#: one variant's cell of an item; ``more`` holds the further samples of the item (same fields, no ``more``)
CELL = ("prediction", "score", "unparseable", "extra", "more")
PAGE_SIZE = 50


def _cell(cell: dict[str, Any] | None) -> list[Any] | None:
    if cell is None:
        return None
    more = [[part[name] for name in CELL[:-1]] for part in cell["more"]] if cell["more"] else None
    return [cell["prediction"], cell["score"], cell["unparseable"], cell["extra"], more]


def _columns(item: dict[str, Any]) -> list[Any]:
    return [item["task"], item["id"], item["prompt"], item["reference"], [_cell(c) for c in item["cells"]],
            item["flags"]]  # fmt: skip


def _meta(view: EvalView) -> dict[str, Any]:
    """What the script needs besides the items: field order, flags, variants and tasks."""
    tasks = [
        {key: task[key] for key in ("label", "benchmark", "protocol", "kind", "metric", "prefix", "items")}
        for task in view.tasks
    ]
    variants = [{key: v[key] for key in ("label", "adapter", "base")} for v in view.variants]
    return {"fields": list(FIELDS), "cell": list(CELL), "flags": FLAGS, "variants": variants, "tasks": tasks}


def first_page(view: EvalView) -> dict[str, Any]:
    """The first page of items with what the script needs to draw it, and the totals."""
    counts = {name: sum(1 for item in view.items if item["flags"] & bit) for name, bit in FLAGS.items()}
    return {
        **_meta(view),
        "page_size": PAGE_SIZE,
        "items": [_columns(item) for item in view.items[:PAGE_SIZE]],
        "total": len(view.items),
        "counts": counts,
    }


def render_chunks(view: EvalView) -> Iterator[str]:
    """The whole HTML page for ``view``, piece by piece."""
    title = f"bioinstruct evaluation: {view.header.get('name') or view.path}"
    parts = {
        **standard_parts(title, page_style("eval.css") + swatch_css(), page_script("eval.js")),
        "HEADER": lambda: [header_html(view)],
        "SCORES": lambda: [scores_html(view)],
        "CHART": lambda: [f'<figure class="chart-box">{score_chart(view)}</figure>'],
        "SETTINGS": lambda: [settings_html(view)],
        "FIRST": lambda: [script_json(first_page(view))],
        "DATA": lambda: json_array_chunks(_meta(view), "items", view.items, _columns),
    }
    return fill_template(asset("eval.html"), parts)


def render_eval_view(view: EvalView) -> str:
    """The whole HTML page for ``view``, as one string."""
    return "".join(render_chunks(view))


def write_eval_view(folder: str | Path, output: str | Path | None = None) -> Path:
    """Gather the evaluation in ``folder`` and write its viewer atomically to ``output``
    (default ``folder/view.html``); returns the path written."""
    view = gather_eval(folder)
    return write_page(Path(output) if output is not None else view.path / DEFAULT_NAME, render_chunks(view))


__all__ = [
    "CELL",
    "FIELDS",
    "PAGE_SIZE",
    "first_page",
    "render_chunks",
    "render_eval_view",
    "write_eval_view",
]
