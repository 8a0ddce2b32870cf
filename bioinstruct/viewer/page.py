"""The run viewer's one HTML file: the template, the style, the script, the charts and the data.

Why one self-contained file: it is opened from disk (``file://``) on a laptop or attached to an
issue, with no server and no network. The data goes in as JSON inside
``<script type="application/json">``, which the browser never executes, with every ``<``, ``>``
and ``&`` in it written as a ``\\u`` escape, so no text of the run (generated text may well contain
``</script>``) can end that element. The page's script renders everything with ``textContent``
(never ``innerHTML``), and a Content-Security-Policy allows only this page's own script and style
(by their SHA-256) and no network at all: even a mistake in escaping could not run injected code.
These pieces are :mod:`bioinstruct.viewer.document`'s, shared with the evaluation page.

The first page of items also goes in a small block of its own, before the script, so it is drawn
while the browser is still reading the rest; the file is written piece by piece
(:func:`render_chunks`), so a 100k-row page is never one string in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bioinstruct.viewer.charts import run_charts
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
from bioinstruct.viewer.gather import STATUSES, RunView, gather_run
from bioinstruct.viewer.sections import rules_html, settings_html, summary_html

#: the columns of each item in the page's data (one JSON array per item, not an object: 100k
#: rows would otherwise repeat every key 100k times)
FIELDS = (
    "id", "status", "rule", "reason", "category", "instruction", "input", "output", "request_id",
    "seed_ids", "teacher_model", "label_source", "nn_ref", "nn_id", "nn_score", "review",
    "identifiers", "overlap", "time",
)  # fmt: skip
SEED_FIELDS = ("id", "instruction", "input", "output", "category")
#: items per page; the first page also goes in its own small block, drawn before the rest is read
PAGE_SIZE = 50


_ITEM_FIELDS = FIELDS[: FIELDS.index("nn_ref") + 1]
_AFTER_NN = FIELDS[FIELDS.index("nn_score") + 1 :]


def _columns(item: dict[str, Any]) -> list[Any]:
    """One item as the page's column array (``nn_id``/``nn_score`` from its ``most_similar``)."""
    similar = item.get("most_similar") or {}
    return [*(item.get(name) for name in _ITEM_FIELDS), similar.get("id"), similar.get("score"),
            *(item.get(name) for name in _AFTER_NN)]  # fmt: skip


def _data_chunks(view: RunView, chunk: int = 2000) -> Iterator[str]:
    """The JSON the page's script reads (rules, seeds, and the items as columns), in pieces of
    ``chunk`` items, so that 100k rows are never one string in memory."""
    head = {
        "header": view.header,
        "threshold": view.threshold,
        "rules": view.rules,
        "fields": list(FIELDS),
        "seed_fields": list(SEED_FIELDS),
        "seeds": [[seed.get(name) for name in SEED_FIELDS] for seed in view.seeds],
    }
    return json_array_chunks(head, "items", view.items, _columns, chunk)


def first_page(view: RunView) -> dict[str, Any]:
    """The first page of items with the neighbours they refer to, and the run's totals: what the page
    draws while the browser is still reading the data of every item (``nn_ref`` -> [where, text])."""
    shown = view.items[:PAGE_SIZE]
    refs = {}
    for item in shown:
        neighbour = view.neighbour(item) if item["nn_ref"] is not None else None
        if neighbour is not None:
            refs[str(item["nn_ref"])] = [neighbour["where"], neighbour["instruction"]]
    counts = {status: sum(item["status"] == status for item in view.items) for status in STATUSES}
    return {
        "page_size": PAGE_SIZE,
        "statuses": list(STATUSES),
        "fields": list(FIELDS),
        "items": [_columns(item) for item in shown],
        "refs": refs,
        "total": len(view.items),
        "counts": counts,
        "rules": view.rules,
    }


def render_chunks(view: RunView) -> Iterator[str]:
    """The whole HTML page for ``view``, piece by piece (the template's text and each part in turn)."""
    title = f"bioinstruct run: {view.header.get('name') or view.path}"
    parts = {
        **standard_parts(title, page_style("run.css"), page_script("run.js")),
        "SUMMARY": lambda: [summary_html(view)],
        "RULES": lambda: [rules_html(view)],
        "SETTINGS": lambda: [settings_html(view)],
        "CHARTS": lambda: [f'<figure class="chart-box">{svg}</figure>\n' for svg in run_charts(view)],
        "FIRST": lambda: [script_json(first_page(view))],
        "DATA": lambda: _data_chunks(view),
    }
    return fill_template(asset("run.html"), parts)


def render_view(view: RunView) -> str:
    """The whole HTML page for ``view``, as one string."""
    return "".join(render_chunks(view))


def write_view(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Gather the run in ``run_dir`` and write its viewer atomically to ``output``
    (default ``run_dir/view.html``); returns the path written."""
    view = gather_run(run_dir)
    return write_page(Path(output) if output is not None else view.path / DEFAULT_NAME, render_chunks(view))


__all__ = [
    "DEFAULT_NAME",
    "FIELDS",
    "PAGE_SIZE",
    "first_page",
    "render_chunks",
    "render_view",
    "script_json",
    "write_view",
]
