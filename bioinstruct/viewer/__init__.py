"""``bioinstruct view``: one self-contained HTML file that shows a generation run.

Why a viewer: a run's evidence is spread over instructions.jsonl, journal.jsonl and run.json, and
the questions a user has (which rows were kept and why, what each filter rejected and what it was
too close to, what the run cost) need all three. The page opens from disk with no server and no
network, stays fast at 100k rows (one page of items in the document at a time), and works on a
run still in progress: the files are only ever read.

Modules, one job each: :mod:`~bioinstruct.viewer.run_folder` reads the folder (read-only),
:mod:`~bioinstruct.viewer.gather` folds it into items and curves, :mod:`~bioinstruct.viewer.charts`
draws the SVG charts, :mod:`~bioinstruct.viewer.sections` writes the static header and tables, and
:mod:`~bioinstruct.viewer.page` puts them with ``run.html``, ``run.css`` and ``run.js`` into one file.
"""

from bioinstruct.viewer.gather import RunView, gather_run
from bioinstruct.viewer.page import DEFAULT_NAME, render_view, write_view

__all__ = ["DEFAULT_NAME", "RunView", "gather_run", "render_view", "write_view"]
