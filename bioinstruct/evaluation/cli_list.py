"""``bioinstruct benchmarks``: the registered benchmarks as a table.

Why: users need to see, before spending model time, which benchmarks load from the Hub and
which need local (credentialed or registration-gated) files, and what each one measures.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="Only list one group (e.g. qa, nli, ie, gen, paper).")


def benchmark_table(group: str | None = None) -> str:
    """The table printed by ``bioinstruct benchmarks``, as text."""
    from bioinstruct.errors import ConfigError
    from bioinstruct.evaluation.registry import list_benchmarks, list_groups

    benchmarks = list_benchmarks(group)
    if not benchmarks:
        raise ConfigError(f"unknown group {group!r}; known groups: {', '.join(sorted(list_groups()))}")
    header = ("name", "groups", "metric", "source", "local data?")
    rows = [
        (
            b.name,
            ",".join(b.groups),
            b.metric_names,
            b.source,
            "required" if b.needs_local_data else "optional",
        )
        for b in benchmarks
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, tuple("-" * w for w in widths), *rows]
    ]
    groups = list_groups()
    lines += [
        "",
        "groups: " + "; ".join(f"{name} = {', '.join(members)}" for name, members in groups.items()),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(benchmark_table(args.group))
    return 0
