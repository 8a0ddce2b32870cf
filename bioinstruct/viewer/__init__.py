"""``bioinstruct view``: one self-contained HTML file that shows a generation run or an evaluation.

Why a viewer: a run's evidence is spread over instructions.jsonl, journal.jsonl and run.json, and
the questions a user has (which rows were kept and why, what each filter rejected and what it was
too close to, what the run cost) need all three; an evaluation's over results.json and one samples
file per benchmark, and its question (what did the adapter change, item by item?) needs both. The
page opens from disk with no server and no network, stays fast at 100k rows (one page of items in
the document at a time), and only ever reads the folder (a run may still be in progress).

Modules, one job each. Shared: :mod:`~bioinstruct.viewer.folders` tells the folder's kind,
:mod:`~bioinstruct.viewer.document` makes a safe self-contained page (escaped JSON, CSP, atomic
writer; with ``common.css`` and ``common.js``), :mod:`~bioinstruct.viewer.charts` has the SVG
primitives. Generation runs: :mod:`~bioinstruct.viewer.run_folder` reads the folder,
:mod:`~bioinstruct.viewer.gather` folds it into items and curves, :mod:`~bioinstruct.viewer.sections`
writes the header and tables, :mod:`~bioinstruct.viewer.page` the page (``run.html/css/js``).
Evaluations: :mod:`~bioinstruct.viewer.eval_folder` reads results.json and the samples,
:mod:`~bioinstruct.viewer.eval_items` decides each item's cells and flags,
:mod:`~bioinstruct.viewer.eval_gather` lines items up across variants,
:mod:`~bioinstruct.viewer.eval_charts` and :mod:`~bioinstruct.viewer.eval_sections` draw the
chart and tables, :mod:`~bioinstruct.viewer.eval_page` the page (``eval.html/css/js``).
"""

from bioinstruct.viewer.document import DEFAULT_NAME
from bioinstruct.viewer.eval_gather import EvalView, gather_eval
from bioinstruct.viewer.eval_page import render_eval_view, write_eval_view
from bioinstruct.viewer.folders import folder_kind, write_folder_view
from bioinstruct.viewer.gather import RunView, gather_run
from bioinstruct.viewer.page import render_view, write_view

__all__ = [
    "DEFAULT_NAME",
    "EvalView",
    "RunView",
    "folder_kind",
    "gather_eval",
    "gather_run",
    "render_eval_view",
    "render_view",
    "write_eval_view",
    "write_folder_view",
    "write_view",
]
