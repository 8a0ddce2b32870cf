"""``bioinstruct benchmarks``: the registered benchmarks as a table.

Why: users need to see, before spending model time, which benchmarks load from the Hub and
which need local (credentialed or registration-gated) files, and what each one measures.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="Only list one group (e.g. qa, nli, ie, gen, paper).")
    parser.add_argument(
        "--include-path",
        action="append",
        metavar="PATH",
        help="Also register the benchmark declarations of this YAML file or folder (as `evaluate` does).",
    )


def benchmark_table(group: str | None = None) -> str:
    """The table printed by ``bioinstruct benchmarks``, as text."""
    from bioinstruct.benchmarks import list_benchmarks, list_groups
    from bioinstruct.errors import ConfigError, did_you_mean

    groups = list_groups()
    benchmarks = list_benchmarks(group)
    if not benchmarks:
        hint = did_you_mean(str(group), groups)
        raise ConfigError(
            f"unknown group {group!r}{hint}{' ' if hint else '; '}known groups: {', '.join(sorted(groups))}"
        )
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
    shown = {group: groups[group]} if group in groups else groups  # --group: its own line only
    lines += [
        "",
        "groups: " + "; ".join(f"{name} = {', '.join(members)}" for name, members in shown.items()),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from bioinstruct.benchmarks import register_yaml

    for path in args.include_path or []:
        register_yaml(path)
    print(benchmark_table(args.group))
    return 0
