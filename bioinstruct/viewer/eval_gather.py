"""Everything the evaluation viewer shows, folded from an evaluation folder into one :class:`EvalView`.

Why per item across variants: the question a reader brings to an evaluation with an adapter is
"what did the adapter change?", and results.json only answers it per benchmark. Here the samples
of every variant (the base and each adapter) are lined up by item id, so each item carries its
prediction and score per variant side by side, and the flags the page filters on (changed by
the adapter, unparseable, wrong in all; the rules are :mod:`bioinstruct.viewer.eval_items`).

A task is a benchmark under one protocol: when a benchmark was run under two (log-likelihood and
chain-of-thought), each is a task of its own and items are lined up within it. A prompt start
shared by all of a task's items (few-shot demonstrations) is kept once, on the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.evaluation.report import BenchmarkResult
from bioinstruct.viewer.eval_folder import EvalFolder, read_eval_folder
from bioinstruct.viewer.eval_items import CHANGED, FLAGS, cell_of, item_flags, shared_prefix, text_of
from bioinstruct.viewer.run_folder import public_settings


@dataclass
class EvalView:
    """The gathered evaluation: header, variants, tasks with their scores, items in page order."""

    path: Path
    header: dict[str, Any]
    #: one per (model, adapter): label, model, adapter, and ``base``: the index of its bare model or None
    variants: list[dict[str, Any]]
    #: one per (benchmark, protocol): label, metric, chance level, one summary per variant (or None)
    tasks: list[dict[str, Any]]
    #: task index, id, prompt (after the task's shared prefix), reference, one cell per variant, flags
    items: list[dict[str, Any]]
    settings: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _variants(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = list(dict.fromkeys(_variant_key(r) for r in results))
    labels = [BenchmarkResult("", model, adapter, {}, 0).variant for model, adapter in keys]
    if len(set(labels)) < len(labels):  # two models with one folder name: the full paths
        labels = [model if adapter is None else f"{model} + {adapter}" for model, adapter in keys]
    index = {key: i for i, key in enumerate(keys)}
    return [
        {"label": label, "model": model, "adapter": adapter,
         "base": index.get((model, None)) if adapter is not None else None}
        for (model, adapter), label in zip(keys, labels, strict=True)
    ]  # fmt: skip


def _summary(entry: dict[str, Any], unparseable: int) -> dict[str, Any]:
    metrics = {k: v for k, v in (entry.get("metrics") or {}).items() if isinstance(v, int | float)}
    metric = str(entry.get("primary_metric") or "accuracy")
    ci = entry.get("ci")
    return {
        "score": metrics.get(metric),
        "metrics": metrics,
        "ci": list(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else None,
        "n": entry.get("n"),
        "unparseable": entry["unparseable"] if isinstance(entry.get("unparseable"), int) else unparseable,
        "warnings": [str(line) for line in entry.get("warnings") or []],
    }


def _protocol(entry: dict[str, Any]) -> dict[str, Any]:
    return entry.get("protocol") if isinstance(entry.get("protocol"), dict) else {}


def _task_key(entry: dict[str, Any]) -> tuple[str, str]:
    """(benchmark, protocol word): what makes results comparable item by item."""
    return str(entry.get("benchmark")), str(_protocol(entry).get("protocol") or "?")


def _variant_key(entry: dict[str, Any]) -> tuple[str, Any]:
    return str(entry.get("model")), entry.get("adapter")


def _task(
    t: int, label: str, group: list[dict[str, Any]], variants: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Task ``t`` (one benchmark under one protocol: the results in ``group``) and its items."""
    name, word = _task_key(group[0])
    where = {(v["model"], v["adapter"]): i for i, v in enumerate(variants)}
    kind = next((_protocol(r).get("task") for r in group if _protocol(r).get("task")), None)
    per_variant: dict[int, dict[str, list[dict[str, Any]]]] = {}
    order: dict[str, dict[str, Any]] = {}  # item id -> its first sample (prompt, reference), in order
    for entry in group:
        by_id = per_variant.setdefault(where[_variant_key(entry)], {})
        for sample in entry["samples"]:
            key = str(sample.get("id"))
            by_id.setdefault(key, []).append(sample)
            order.setdefault(key, sample)
    items = []
    for key, first in order.items():
        cells = [cell_of(per_variant[v][key], kind) if key in per_variant.get(v, {}) else None
                 for v in range(len(variants))]  # fmt: skip
        items.append({"task": t, "id": key, "prompt": str(first.get("prompt") or ""),
                      "reference": text_of(first.get("reference")), "cells": cells,
                      "flags": item_flags(cells, variants)})  # fmt: skip
    summaries: list[dict[str, Any] | None] = [None] * len(variants)
    for entry in group:
        v = where[_variant_key(entry)]
        summaries[v] = _summary(
            entry, sum(1 for item in items if item["cells"][v] and item["cells"][v]["unparseable"])
        )
    prefix = shared_prefix([item["prompt"] for item in items])
    for item in items:
        item["prompt"] = item["prompt"][len(prefix) :]
    checks = next((r["diagnostics"] for r in group if isinstance(r.get("diagnostics"), dict)), {})
    task = {
        "label": label, "benchmark": name, "protocol": word, "kind": kind,
        "metric": str(group[0].get("primary_metric") or "accuracy"), "chance": checks.get("chance_baseline"),
        "majority": checks.get("majority_baseline"), "results": summaries, "prefix": prefix, "items": len(items),
        "changed": sum(1 for item in items if item["flags"] & CHANGED),
    }  # fmt: skip
    return task, items


def gather_eval(path: str | Path) -> EvalView:
    """Read the evaluation folder ``path`` (never writing to it) and gather what the viewer shows."""
    folder: EvalFolder = read_eval_folder(path)
    results = folder.results
    variants = _variants(results)
    keys = list(dict.fromkeys(_task_key(r) for r in results))
    several = {name for name, _ in keys if sum(other == name for other, _ in keys) > 1}
    tasks, items = [], []
    for t, (name, word) in enumerate(keys):
        label = f"{name} ({word})" if name in several else name
        task, task_items = _task(t, label, [r for r in results if _task_key(r) == (name, word)], variants)
        tasks.append(task)
        items += task_items
    return EvalView(
        path=folder.path,
        header=_header(folder, variants, tasks),
        variants=variants,
        tasks=tasks,
        items=items,
        settings=_settings(folder, tasks, results),
        skipped=folder.skipped,
        warnings=[line for r in results for line in (r.get("warnings") or [])],
        notes=folder.notes,
    )


def _header(
    folder: EvalFolder, variants: list[dict[str, Any]], tasks: list[dict[str, Any]]
) -> dict[str, Any]:
    adapters: dict[str, str | None] = {}
    for entry in folder.results:
        if entry.get("adapter") is not None:
            path = _protocol(entry).get("adapter_path")
            adapters.setdefault(str(entry["adapter"]), str(path) if path else None)
    protocols = [_protocol(entry) for entry in folder.results]
    return {
        "name": folder.path.resolve().name,
        "models": list(dict.fromkeys(v["model"] for v in variants)),
        "adapters": adapters,
        "benchmarks": list(dict.fromkeys(task["benchmark"] for task in tasks)),
        "protocols": list(dict.fromkeys(task["protocol"] for task in tasks)),
        "templates": list(dict.fromkeys(str(p["template"]) for p in protocols if p.get("template"))),
        "shots": sorted({int(p["num_fewshot"]) for p in protocols if isinstance(p.get("num_fewshot"), int)}),
        "items": sum(task["items"] for task in tasks),
        "changed": sum(task["changed"] for task in tasks),
    }


def _settings(
    folder: EvalFolder, tasks: list[dict[str, Any]], results: list[dict[str, Any]]
) -> dict[str, Any]:
    """evaluate.yaml and each task's protocol (the first variant's), credentials left out."""
    protocols = {}
    for task in tasks:
        entry = next(r for r in results if _task_key(r) == (task["benchmark"], task["protocol"]))
        protocols[task["label"]] = public_settings(_protocol(entry))
    return (
        {"evaluate.yaml": folder.config, "protocols": protocols}
        if folder.config
        else {"protocols": protocols}
    )


__all__ = ["FLAGS", "EvalView", "gather_eval"]
