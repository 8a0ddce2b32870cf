"""``bioinstruct view RUN_DIR``: write a generation run's viewer, one HTML file that opens from disk.

Why a command of its own: the viewer only reads a run's files, so it can be written at any time,
also while ``generate`` is still running in the same folder, and sent to a colleague as one file.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", help="Run folder of `bioinstruct generate` (journal.jsonl, ...)."
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="Where to write the HTML file (default: RUN_DIR/view.html); written atomically.",
    )


def _size(size: int) -> str:
    for unit, step in (("MB", 1e6), ("kB", 1e3)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} bytes"


def run(args: argparse.Namespace) -> int:
    from bioinstruct.viewer import write_view

    path = write_view(args.run_dir, args.output)
    print(f"wrote {path} ({_size(path.stat().st_size)})")
    return 0
