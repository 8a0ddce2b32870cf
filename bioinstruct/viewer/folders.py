"""Which viewer a folder gets: a generation run's or an evaluation's, told apart by their files.

Why by files and not by a flag: ``bioinstruct view FOLDER`` should just work on whatever folder a
user has, and the two kinds never share their marker files (a run has journal.jsonl or
instructions.jsonl, an evaluation results.json). Anything else is one line naming both kinds, so
a mistyped path says what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bioinstruct.errors import DataError
from bioinstruct.evaluation.report import RESULTS_FILE
from bioinstruct.generation.journal import INSTRUCTIONS, JOURNAL

Kind = Literal["generation", "evaluation"]
EXPECTED = (
    f"expected a generation run folder holding {JOURNAL} or {INSTRUCTIONS} (as `bioinstruct generate` "
    f"writes) or an evaluation folder holding {RESULTS_FILE} (as `bioinstruct evaluate` writes)"
)


def folder_kind(folder: str | Path) -> Kind:
    """``generation`` or ``evaluation`` for ``folder``, else a one-line :class:`DataError`."""
    path = Path(folder)
    if not path.exists():
        raise DataError(f"{path}: folder not found; {EXPECTED}")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; {EXPECTED}")
    if (path / JOURNAL).is_file() or (path / INSTRUCTIONS).is_file():
        return "generation"
    if (path / RESULTS_FILE).is_file():
        return "evaluation"
    raise DataError(f"{path}: neither a generation run nor an evaluation; {EXPECTED}")


def write_folder_view(folder: str | Path, output: str | Path | None = None) -> tuple[Kind, Path]:
    """Write the viewer of ``folder`` (of its kind) to ``output`` (default ``folder/view.html``)."""
    kind = folder_kind(folder)
    if kind == "generation":
        from bioinstruct.viewer.page import write_view

        return kind, write_view(folder, output)
    from bioinstruct.viewer.eval_page import write_eval_view

    return kind, write_eval_view(folder, output)


__all__ = ["EXPECTED", "Kind", "folder_kind", "write_folder_view"]
