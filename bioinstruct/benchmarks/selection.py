"""Which benchmarks run here: :func:`select`, the one place that decides it for every stage.

Why one function: ``evaluate``, ``decontaminate`` and the quickstart each expand names and groups
and load test rows; with one rule in one place a group behaves the
same everywhere (members that cannot load here are skipped and listed with the reason, e.g. offline
without a cached copy) and a benchmark named explicitly loads or fails with its one-line error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bioinstruct.benchmarks.declaration import Benchmark
from bioinstruct.benchmarks.registry import (
    get_benchmark,
    is_benchmark,
    list_groups,
    resolve_benchmarks,
    split_names,
)
from bioinstruct.errors import ConfigError, DataError


@dataclass
class LoadedBenchmark:
    """A benchmark chosen by :func:`select` with its test rows (Hub schema) and where they came from."""

    benchmark: Benchmark
    rows: list[dict]
    #: The supplied file, or None for the Hub split (from the cache when offline).
    data_file: str | None
    #: Named by the user (not only through a group): it must load, and so must its demonstrations.
    explicit: bool

    @property
    def source(self) -> str:
        return f"local file {self.data_file}" if self.data_file else self.benchmark.source


def skip_reason(bench: Benchmark, err: Exception | None = None, *, fewshot: bool = False) -> str:
    """Why a group member is not run here, in one line (the same words in every stage).

    ``fewshot``: its test rows loaded but its demonstrations (the Hub train split) did not.
    """
    if bench.needs_local_data and not fewshot:
        return f"needs local data: {bench.how_to_get or f'pass --data-file {bench.name}=PATH'}"
    from bioinstruct.offline import offline_by_environment

    hub = bench.fewshot_hub if fewshot else bench.hub
    flag = (
        f"--fewshot-file {bench.name}=PATH or --num-fewshot 0"
        if fewshot
        else f"--data-file {bench.name}=PATH"
    )
    if hub is not None and offline_by_environment():
        return f"{hub.describe()} is not in the Hugging Face cache and the Hub is offline; pass {flag}"
    text = str(err) if err is not None else "could not be loaded"
    return text.removeprefix(f"benchmark {bench.name!r}: ")


def select(
    spec: str | Sequence[str],
    data_files: Mapping[str, str | Path] | None = None,
    *,
    optional: bool = False,
    nothing: str = "nothing to run",
) -> tuple[list[LoadedBenchmark], dict[str, str]]:
    """Expand ``spec`` (names and/or groups) and load each benchmark's test rows, the one way every
    stage does it (``evaluate``, ``decontaminate``, generation's filter, the quickstart).

    * A benchmark named explicitly must load (unless ``optional``: then every name is treated as a
      group member, as the quickstart's fixed list is): it raises its own one-line error (local-only sets
      without a file are checked first, before any Hub download).
    * A group member that cannot load here (local-only data not given; a Hub split neither cached nor
      reachable) is returned in ``skipped`` with the reason: a group is a convenience, not a promise.
    * A supplied file always loads or raises (the user's file is wrong), group member or not.
    * A data file for an unknown name is an error with a "did you mean"; nothing loadable at all is an
      error listing each reason.

    Returns (loaded, skipped) in the order of ``spec``; ``nothing`` starts the error when nothing loads
    (with ``optional``, nothing loading is not an error: ``loaded`` is empty).
    """
    names = split_names(spec)
    if not names:
        raise ConfigError(
            "no benchmark given; e.g. qa or medqa,pubmedqa (`bioinstruct benchmarks` lists them)"
        )
    files = {key: str(value) for key, value in (data_files or {}).items()}
    groups = list_groups()
    chosen: dict[str, Benchmark] = {}
    explicit: set[str] = set()
    for name in names:
        for bench in resolve_benchmarks([name]):
            chosen.setdefault(bench.name, bench)
            if not optional and (name not in groups or is_benchmark(name)):
                explicit.add(bench.name)
    for name, path in files.items():
        if not is_benchmark(name):
            try:  # a mistyped --data-file name is an error with a suggestion, not a silent skip
                get_benchmark(name)
            except ConfigError as err:
                raise ConfigError(f"a data file ({path}) is given for an {err}") from None
    for bench in chosen.values():
        if bench.name in explicit and bench.needs_local_data and bench.name not in files:
            bench.load_rows(None)  # raises the DataError that says how to get the data
    loaded: list[LoadedBenchmark] = []
    skipped: dict[str, str] = {}
    for bench in chosen.values():
        path = files.get(bench.name)
        if path is None and bench.needs_local_data:
            skipped[bench.name] = skip_reason(bench)
            continue
        try:
            rows = bench.load_rows(path)
        except DataError as err:
            if bench.name in explicit or path is not None:
                raise
            skipped[bench.name] = skip_reason(bench, err)
            continue
        loaded.append(LoadedBenchmark(bench, rows, path, bench.name in explicit))
    if not loaded and not optional:
        raise ConfigError(nothing_loaded(nothing, names, skipped))
    return loaded, skipped


def nothing_loaded(nothing: str, names: Sequence[str], skipped: Mapping[str, str]) -> str:
    """The one-line error when no benchmark of ``names`` can run here, with each reason."""
    reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped.items())
    return f"{nothing} in {', '.join(names)} ({reasons})"


__all__ = ["LoadedBenchmark", "select", "skip_reason"]
