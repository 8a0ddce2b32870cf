"""``bioinstruct view FOLDER``: write the viewer of a generation run or an evaluation, one HTML file.

Why a command of its own: the viewer only reads a folder's files, so it can be written at any time,
also while ``generate`` is still running in the same folder, and sent to a colleague as one file.
The folder's kind is told by its files (:func:`bioinstruct.viewer.folders.folder_kind`): a run's
journal.jsonl / instructions.jsonl, or an evaluation's results.json.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir",
        metavar="FOLDER",
        help="A run folder of `bioinstruct generate` (journal.jsonl, ...) or an output folder of "
        "`bioinstruct evaluate` (results.json, samples/).",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="Where to write the HTML file (default: FOLDER/view.html); written atomically.",
    )


def _size(size: int) -> str:
    for unit, step in (("MB", 1e6), ("kB", 1e3)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} bytes"


def run(args: argparse.Namespace) -> int:
    from bioinstruct.viewer.folders import write_folder_view

    kind, path = write_folder_view(args.run_dir, args.output)
    print(f"wrote {path} ({_size(path.stat().st_size)}; {kind} viewer)")
    return 0
