"""``bioinstruct decontaminate DATA --benchmarks qa``: which rows overlap benchmark test items.

Why a stage of its own: a dataset generated elsewhere (or by an older run) must be checked before
anyone trains on it and reports MedQA scores. The command prints one line per benchmark,
``--report`` keeps the evidence (the same schema as run.json's ``decontamination`` entry), and
``--output`` writes the rows that were not flagged, which is how flagged rows are dropped: the input
is never modified.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from bioinstruct.cli_args import parse_name_path_pairs
from bioinstruct.decontamination.overlap_index import DEFAULT_BENCHMARKS
from bioinstruct.decontamination.report import (
    DEFAULT_NGRAM,
    DEFAULT_THRESHOLD,
    ContaminationIndex,
    decontaminate,
    row_fields,
)
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.generation.journal import write_json_atomic
from bioinstruct.jsonio import read_records, write_records
from bioinstruct.similarity.tokenization import TOKENIZERS

INSTRUCTIONS = "instructions.jsonl"  # what `bioinstruct generate` leaves in its output folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help="Instruction dataset: JSONL, a JSON list (Alpaca format), a `bioinstruct generate` "
        f"output folder (its {INSTRUCTIONS}) or a `datasets` save_to_disk folder (its 'train' split if it "
        "has splits).",
    )
    parser.add_argument(
        "--benchmarks",
        default=None,
        help="Benchmarks and/or groups to check against, comma-separated (e.g. qa, paper, medqa,pubmedqa); "
        "`bioinstruct benchmarks` lists them. Group members without data are skipped and reported. "
        f"Default: {','.join(DEFAULT_BENCHMARKS)}, each skipped with the reason when it cannot load here.",
    )
    parser.add_argument(
        "--include-path",
        action="append",
        metavar="PATH",
        help="A benchmark declaration YAML file or folder to register first (as `bioinstruct evaluate`); repeatable.",
    )
    parser.add_argument(
        "--data-file",
        action="append",
        metavar="NAME=PATH",
        help="Local test items of a benchmark in its Hub schema, instead of the Hub (required for "
        "benchmarks with credentialed data such as bioasq); repeat per benchmark.",
    )
    parser.add_argument(
        "--ngram",
        type=int,
        default=DEFAULT_NGRAM,
        help=f"Flag a row sharing any word n-gram of this length with a test item (default {DEFAULT_NGRAM}, "
        "as GPT-3 and lm-evaluation-harness).",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="Flag a row whose instruction+input has ROUGE-L F >= this with a test question "
        f"(default {DEFAULT_THRESHOLD}).",
    )
    parser.add_argument(
        "--tokenizer",
        choices=sorted(TOKENIZERS),
        default="rouge",
        help="ROUGE-L tokenizer: 'rouge' (rouge_score's, as the paper; default) or 'biomedical'.",
    )
    parser.add_argument(
        "--report", metavar="PATH", help="Write the JSON report (per benchmark: counts, examples)."
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        help="Write the rows that were not flagged (atomically; JSONL for .jsonl, else a JSON list).",
    )
    parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")


def _read_data(data: str) -> tuple[list[dict], Path]:
    """The rows of DATA and the file they came from (the folder itself for a save_to_disk dataset)."""
    path = Path(data)
    if not path.is_dir():
        return read_records(path), path
    if (path / INSTRUCTIONS).is_file():
        return read_records(path / INSTRUCTIONS), path / INSTRUCTIONS
    from datasets import DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except Exception:  # noqa: BLE001 - datasets raises several types for "not a saved dataset"
        raise DataError(
            f"{data}: a folder without {INSTRUCTIONS} that is not a `save_to_disk` dataset either; pass a "
            "JSON/JSONL file, a `bioinstruct generate` output folder or a `save_to_disk` folder"
        ) from None
    if isinstance(loaded, DatasetDict):
        if "train" not in loaded:
            raise DataError(
                f"{data}: a saved DatasetDict without a 'train' split (splits: {', '.join(loaded)}); save the "
                "split to check on its own with ds[split].save_to_disk(...)"
            )
        loaded = loaded["train"]
    return loaded.to_list(), path


def _check_rows(rows: list[dict], source: Path) -> None:
    """Every row's fields, before minutes of loading benchmarks (the same rules as :func:`decontaminate`)."""
    try:
        for position, row in enumerate(rows):
            row_fields(row, f"row {position}")
    except DataError as err:
        raise DataError(f"{source}: {err}") from None


def _check_targets(args: argparse.Namespace, source: Path) -> None:
    """Refuse outputs that would overwrite the input or each other, or cannot be files, before any work."""
    targets = [
        (flag, value) for flag, value in (("--report", args.report), ("--output", args.output)) if value
    ]
    for flag, value in targets:
        target = Path(value)
        if target.is_dir():
            raise DataError(f"{flag} {value!r} is a folder; pass a file path")
        parent = next((p for p in target.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise DataError(f"{flag} {value!r}: {str(parent)!r} is a file, not a folder")
        if target.exists() and source.is_file() and target.samefile(source):
            raise DataError(
                f"{flag} {value!r} is the input data {str(source)!r}; the input is never overwritten, "
                "write to another file"
            )
    if len(targets) == 2 and Path(args.report).absolute() == Path(args.output).absolute():
        raise DataError(f"--report and --output are the same file {args.report!r}; pass two paths")


def _table(report: dict) -> str:
    header = ("benchmark", "source", "test items", "flagged", "n-gram", "ROUGE-L")
    lines = [header]
    for name, entry in report["benchmarks"].items():
        methods = entry["by_method"]
        lines.append(
            (
                name,
                entry["source"],
                str(entry["test_items"]),
                str(entry["rows_flagged"]),
                str(methods["ngram"]),
                str(methods["rouge_l"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _write(path: str, what: str, write: Callable[[], object]) -> None:
    try:
        write()
    except OSError as err:  # a folder in the way, no permission, a full disk
        raise DataError(f"cannot write the {what} to {path!r}: {err.strerror or err}") from None


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.ngram < 1:
        raise ConfigError(f"--ngram must be at least 1 (words per shared n-gram), got {args.ngram}")
    if not 0.0 < args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be in (0, 1] (a ROUGE-L F score), got {args.threshold}")
    data_files = parse_name_path_pairs(args.data_file)
    rows, path = _read_data(args.data)
    _check_rows(rows, path)
    _check_targets(args, path)
    from bioinstruct.benchmarks import register_yaml

    for path in args.include_path or []:
        register_yaml(path)
    index = ContaminationIndex.from_benchmarks(
        args.benchmarks or DEFAULT_BENCHMARKS,
        optional=args.benchmarks is None,
        data_files=data_files,
        ngram=args.ngram,
        rouge_threshold=args.threshold,
        tokenizer=args.tokenizer,
    )
    result = decontaminate(
        rows, index, action="drop" if args.output else "flag", progress=not args.no_progress
    )
    report = result.report.to_dict()
    if args.report:
        _write(args.report, "report", lambda: write_json_atomic(Path(args.report), report))
    if args.output:
        _write(args.output, "rows not flagged", lambda: write_records(args.output, result.clean))
    seconds = time.perf_counter() - start
    print(
        f"decontaminate: {report['rows_flagged']} of {report['rows_checked']} rows of {path} flagged "
        f"({args.ngram}-grams, ROUGE-L >= {args.threshold}, tokenizer {args.tokenizer}) in {seconds:.1f} s"
    )
    print(_table(report))
    for name, reason in report["skipped"].items():
        print(f"skipped {name}: {reason}")
    if args.output:
        print(f"wrote {len(result.clean)} rows not flagged -> {args.output}")
    if args.report:
        print(f"report -> {args.report}")
    return 0
