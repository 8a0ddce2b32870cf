"""``bioinstruct dedup IN OUT``: the self-instruct ROUGE-L filter for any instruction dataset.

Why a stage of its own: users bring datasets generated elsewhere (Alpaca-format JSON lists,
JSONL dumps) and want the paper's filter, against the paper's seeds or their own, without
running generation. The output keeps the input's format, with ``most_similar`` added to each row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bioinstruct.errors import ConfigError
from bioinstruct.generation.similarity import filter_near_duplicates
from bioinstruct.generation.tokenization import TOKENIZERS
from bioinstruct.jsonio import is_jsonl, read_records, write_records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="IN", help="Instruction dataset: JSONL, or a JSON list (Alpaca format)."
    )
    parser.add_argument(
        "output",
        metavar="OUT",
        help="Where to write the kept rows (written atomically; JSONL if IN is JSONL, else a JSON list).",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.7,
        help="Drop a row whose ROUGE-L F against a seed or an earlier kept row is above this (default 0.7).",
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
    parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be between 0 and 1, got {args.threshold}")
    start = time.perf_counter()
    rows = read_records(args.input)
    seeds = read_records(args.seeds) if args.seeds else None
    result = filter_near_duplicates(
        rows,
        threshold=args.threshold,
        field=args.field,
        seeds=seeds,
        tokenizer=args.tokenizer,
        progress=not args.no_progress,
    )
    output = Path(args.output)
    if is_jsonl(args.input) != is_jsonl(output):
        # Keep the input's format whatever OUT's suffix says, so a JSON list stays a list.
        kind = "JSONL" if is_jsonl(args.input) else "a JSON list"
        print(f"bioinstruct dedup: note: writing {kind} like {args.input}", file=sys.stderr)
    write_records(output, result.kept, jsonl=is_jsonl(args.input))
    seconds = time.perf_counter() - start
    print(
        f"dedup: kept {len(result.kept)}, dropped {len(result.dropped)} of {len(rows)} rows "
        f"(ROUGE-L >= {args.threshold}, tokenizer {args.tokenizer}) in {seconds:.1f} s -> {output}"
    )
    return 0
