"""The Python a benchmark declaration names: item converters, file readers and scorers.

Why names: a YAML declaration cannot hold code, so it says ``to_item: multiple_choice``,
``read_local: table`` or ``metric: rouge`` and this module finds the function. The built-ins
live in ``converters.py``, ``rows.py`` and ``scorers.py``; a user with a new row layout registers
one function (``@register_converter("mine")``) and writes everything else as YAML.

* a converter is ``(benchmark, row, index) -> Item``: it reads ``benchmark.instruction`` and
  ``benchmark.options`` (field names, label sets), so one converter serves many benchmarks;
* a reader is ``Path -> list[dict]`` (rows in the Hub schema);
* a scorer is ``benchmark -> Scorer`` (corpus metrics, per-item score, CI), built per benchmark
  so it can read the declaration's options (a relation set's labels and aliases).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bioinstruct.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Scorer:
    """The three scoring functions of a generation benchmark (see ``Benchmark``)."""

    corpus_metrics: Callable | None = None
    item_score: Callable | None = None
    ci: Callable | None = None


_KINDS = {"to_item": "converter", "read_local": "reader", "metric": "scorer"}
_FUNCTIONS: dict[str, dict[str, Callable[..., Any]]] = {kind: {} for kind in _KINDS}
#: Modules whose import registers the built-in functions.
_BUILTIN_MODULES = ("converters", "rows", "scorers")


def _register(kind: str, name: str) -> Callable[[Callable], Callable]:
    def decorate(function: Callable) -> Callable:
        _FUNCTIONS[kind][name] = function
        return function

    return decorate


def register_converter(name: str) -> Callable[[Callable], Callable]:
    """Decorator: ``(benchmark, row, index) -> Item`` under ``name`` (``to_item: name``)."""
    return _register("to_item", name)


def register_reader(name: str) -> Callable[[Callable], Callable]:
    """Decorator: ``Path -> list[dict]`` under ``name`` (``read_local: name``)."""
    return _register("read_local", name)


def register_scorer(name: str) -> Callable[[Callable], Callable]:
    """Decorator: ``benchmark -> Scorer`` under ``name`` (``metric: name``)."""
    return _register("metric", name)


def lookup(kind: str, name: str, benchmark: str) -> Callable[..., Any]:
    """The function a declaration's field ``kind`` names; an unknown name gets a "did you mean"."""
    _load_builtins()
    table = _FUNCTIONS[kind]
    if name in table:
        return table[name]
    raise ConfigError(
        f"benchmark {benchmark!r}: {kind}: unknown {_KINDS[kind]} {name!r}{did_you_mean(name, table)}; "
        f"known: {', '.join(sorted(table))}"
    )


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{module}")
