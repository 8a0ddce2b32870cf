"""``bioinstruct dedup IN OUT``: the self-instruct ROUGE-L filter for any instruction dataset.

Why a stage of its own: users bring datasets generated elsewhere (Alpaca-format JSON lists,
JSONL dumps) and want the paper's filter, against the paper's seeds or their own, without
running generation. OUT holds the kept rows exactly as they were in IN (same fields, same
format), so it drops into whatever read IN; which rows were dropped, and the row each one
collided with, goes to ``--dropped FILE`` (JSONL), and the counts to the console.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError, DataError, did_you_mean
from bioinstruct.jsonio import is_jsonl, read_records, write_records
from bioinstruct.similarity.near_duplicates import filter_near_duplicates
from bioinstruct.similarity.tokenization import TOKENIZERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="IN", help="Instruction dataset: JSONL, or a JSON list (Alpaca format)."
    )
    parser.add_argument(
        "output",
        metavar="OUT",
        help="Where to write the kept rows, unchanged (written atomically; JSONL if IN is JSONL, else a "
        "JSON list). Never IN itself.",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.7,
        help="Drop a row whose ROUGE-L F against a seed or an earlier kept row is at or above this "
        "(>=, as the paper; default 0.7).",
    )
    parser.add_argument(
        "--field", default="instruction", help="Field holding the text to compare (default instruction)."
    )
    parser.add_argument(
        "--tokenizer",
        choices=sorted(TOKENIZERS),
        default="rouge",
        help="'rouge': rouge_score's tokenizer, as in the paper (default); 'biomedical': keeps Greek "
        "letters, entity names like IL-6, doses and non-Latin scripts.",
    )
    parser.add_argument(
        "--seeds",
        metavar="FILE",
        help="JSON/JSONL seed tasks every row is also compared with (they are not written to OUT).",
    )
    parser.add_argument(
        "--dropped",
        metavar="FILE",
        help="Also write the dropped rows as JSONL: position in IN, the row, and the seed or kept row it "
        "matched (id, ROUGE-L score, text).",
    )
    parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")


def _check_paths(args: argparse.Namespace) -> None:
    """Outputs that would overwrite IN, each other, or a folder are refused before any work."""
    source = Path(args.input)
    targets = [(flag, value) for flag, value in (("OUT", args.output), ("--dropped", args.dropped)) if value]
    for flag, value in targets:
        target = Path(value)
        if target.is_dir():
            raise DataError(f"{flag} {value!r} is a folder; pass a file path")
        if target.exists() and source.exists() and target.samefile(source):
            raise DataError(f"{flag} {value!r} is IN itself; IN is never overwritten, write to another file")
    if args.dropped and Path(args.dropped).absolute() == Path(args.output).absolute():
        raise DataError(f"OUT and --dropped are the same file {args.output!r}; pass two paths")


def _check_field(rows: list[dict[str, Any]], field: str, source: str) -> None:
    """Every row has the compared field (checked before the progress bar starts)."""
    for position, row in enumerate(rows):
        if not isinstance(row, dict) or field not in row:
            present = sorted(row) if isinstance(row, dict) else []
            raise DataError(
                f"{source}: row {position}: missing field {field!r}{did_you_mean(field, present)} "
                f"(fields present: {present}; choose one with --field)"
            )


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, got {args.threshold}")
    start = time.perf_counter()
    _check_paths(args)
    rows = read_records(args.input)
    _check_field(rows, args.field, args.input)
    seeds = read_records(args.seeds) if args.seeds else None
    result = filter_near_duplicates(
        rows,
        threshold=args.threshold,
        field=args.field,
        seeds=seeds,
        tokenizer=args.tokenizer,
        progress=not args.no_progress,
    )
    dropped_positions = {entry["position"] for entry in result.dropped}
    kept = [row for position, row in enumerate(rows) if position not in dropped_positions]
    output = Path(args.output)
    if is_jsonl(args.input) != is_jsonl(output):
        # Keep the input's format whatever OUT's suffix says, so a JSON list stays a list.
        kind = "JSONL" if is_jsonl(args.input) else "a JSON list"
        print(f"bioinstruct dedup: note: writing {kind} like {args.input}", file=sys.stderr)
    write_records(output, kept, jsonl=is_jsonl(args.input))
    if args.dropped:
        write_records(args.dropped, result.dropped, jsonl=True)
    seconds = time.perf_counter() - start
    if args.dropped:
        where = f"; dropped rows -> {args.dropped}"
    elif result.dropped:
        where = "; list them with --dropped FILE"
    else:
        where = ""
    print(
        f"dedup: kept {len(kept)}, dropped {len(result.dropped)} of {len(rows)} rows "
        f"(ROUGE-L >= {args.threshold}, tokenizer {args.tokenizer}) in {seconds:.1f} s -> {output}{where}"
    )
    return 0
