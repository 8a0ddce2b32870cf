"""Benchmark declarations (YAML data) and their rows: what every stage that reads test sets shares.

Why below the stages: evaluation scores benchmarks and decontamination checks training rows
against their test items, so the declarations, the row readers and :func:`select` (which
benchmarks can run with these data files) live here, one layer down, and neither stage imports
the other. Item converters and scorers are the only Python; declarations name them.
"""

from __future__ import annotations

from bioinstruct.benchmarks.declaration import Benchmark, HubSource, Item
from bioinstruct.benchmarks.registry import (
    get_benchmark,
    list_benchmarks,
    list_groups,
    read_declarations,
    register_benchmark,
    register_yaml,
    resolve_benchmarks,
)
from bioinstruct.benchmarks.selection import LoadedBenchmark, select, skip_reason

__all__ = [
    "Benchmark",
    "HubSource",
    "Item",
    "LoadedBenchmark",
    "get_benchmark",
    "list_benchmarks",
    "list_groups",
    "read_declarations",
    "register_benchmark",
    "register_yaml",
    "resolve_benchmarks",
    "select",
    "skip_reason",
]
