"""The quickstart's QA test sets: which are here (offline), the generation run's overlap rule over
them, and the decontamination check of the training rows.

Why an explicit list (``QUICKSTART_BENCHMARKS``) and not the ``qa`` group: a benchmark a user adds
to a group must not silently change what the quickstart evaluates and checks against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.jsonio import write_text_atomically

#: The QA benchmarks the quickstart scores and decontaminates against, an explicit list (a benchmark
#: added to the ``qa`` group does not join it); each is used when its test data is here.
QUICKSTART_BENCHMARKS = ("medqa", "medmcqa", "pubmedqa", "bioasq")


def local_qa_benchmarks(data_files: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """QA benchmarks whose test data is here: a ``--data-file``, or a copy in the Hugging Face cache.

    Returns ({name: data file or ""}, {name: why it is not evaluated}). An empty path means "the
    Hub split, from the cache"; nothing is downloaded because the quickstart runs offline.
    """
    from bioinstruct.benchmarks import get_benchmark, select

    for name in data_files:
        get_benchmark(name)  # a typo is an error here, not a silently skipped benchmark
        if name not in QUICKSTART_BENCHMARKS:
            raise ConfigError(
                f"--data-file {name}=...: the quickstart evaluates the QA benchmarks "
                f"({', '.join(QUICKSTART_BENCHMARKS)}); score {name} with `bioinstruct evaluate "
                f"--benchmarks {name} --data-file {name}=PATH`"
            )
    loaded, notes = select(QUICKSTART_BENCHMARKS, data_files, optional=True)
    return {entry.benchmark.name: entry.data_file or "" for entry in loaded}, notes


def overlap_rule(qa_files: dict[str, str]):
    """The generation run's benchmark-overlap rule over the local QA test items (None without any)."""
    if not qa_files:
        return None
    from bioinstruct.decontamination import BenchmarkOverlap

    files = {name: path for name, path in qa_files.items() if path}
    return BenchmarkOverlap.for_benchmarks(sorted(qa_files), data_files=files)


def decontamination_step(
    rows: list[dict[str, Any]], qa_files: dict[str, str], report_path: Path
) -> dict[str, Any] | None:
    """Check the training rows against the local QA test items, and say what was found."""
    if not qa_files:
        print("      decontamination: no QA test data here to check against (pass --data-file medqa=...)")
        return None
    from bioinstruct.decontamination import ContaminationIndex, decontaminate

    files = {name: path for name, path in qa_files.items() if path}
    index = ContaminationIndex.from_benchmarks(sorted(qa_files), data_files=files)
    report = decontaminate(rows, index).report.to_dict()
    write_text_atomically(report_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    flagged = report["rows_flagged"]
    print(
        f"      decontamination: {flagged} of {report['rows_checked']} rows overlap the test items of "
        f"{', '.join(sorted(qa_files))} (report: {report_path}); "
        "`bioinstruct decontaminate DATA --benchmarks qa --output clean.jsonl` drops them"
    )
    return report
