"""An adapter's evaluation results, from ``results.json``, as a card table and as ``model-index`` metadata.

Why the protocol goes into every metric: MedQA scored by log-likelihood and MedQA scored by parsing
generated answers are different numbers, and so are 0-shot and 1-shot. Each result becomes its own
``EvalResult`` whose metric ``config`` (``loglikelihood-0shot-bioinstruct``), ``name`` and ``args``
carry the protocol, so two protocols of one benchmark are two entries, and the base model's score
under the same protocol is shown next to the adapter's in the table.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bioinstruct.errors import BioInstructError, DataError

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
_TASK_TYPES = {"multiple_choice": "multiple-choice", "generation": "text-generation"}
_METRIC_TYPES = {"rougeL": "rouge", "rouge1": "rouge", "rouge2": "rouge", "rougeLsum": "rouge"}


def load_results_file(path: str | Path) -> tuple[dict[str, Any], Path]:
    """Read ``results.json`` (or ``DIR/results.json``); returns the data and the file's path."""
    file = Path(path)
    if file.is_dir():
        file = file / RESULTS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(
            f"cannot read evaluation results {str(file)!r}: {err.strerror or err}; pass the results.json "
            "(or the --output-dir) of `bioinstruct evaluate`"
        ) from err
    except json.JSONDecodeError as err:
        raise DataError(f"{str(file)!r} is not valid JSON (line {err.lineno}: {err.msg})") from err
    entries = data.get("results") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise DataError(
            f"{str(file)!r} has no 'results' list: is it a results.json of `bioinstruct evaluate`?"
        )
    for index, entry in enumerate(entries):
        missing = [
            key for key in ("benchmark", "model", "metrics", "primary_metric", "n") if key not in entry
        ]
        metrics = entry.get("metrics") if isinstance(entry.get("metrics"), dict) else {}
        if missing or entry["primary_metric"] not in metrics:
            what = f"lacks {', '.join(missing)}" if missing else f"has no {entry['primary_metric']!r} metric"
        elif not _is_number(metrics[entry["primary_metric"]]):
            what = f"has {entry['primary_metric']} = {metrics[entry['primary_metric']]!r}, expected a number"
        elif entry.get("ci") is not None and not (
            isinstance(entry["ci"], list) and len(entry["ci"]) == 2 and all(map(_is_number, entry["ci"]))
        ):
            what = f"has ci = {entry['ci']!r}, expected [low, high] or null"
        else:
            continue
        raise DataError(f"{str(file)!r}: results[{index}] ({entry.get('benchmark', '?')}) {what}")
    return data, file


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _adapter_path(entry: Mapping[str, Any]) -> str | None:
    path = (entry.get("protocol") or {}).get("adapter_path")
    return str(path) if path else None


def _resolved(path: str) -> Path:
    return Path(path).expanduser().resolve()


def select_for_adapter(
    entries: list[dict[str, Any]], adapter_dir: str | Path, source: str | Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The results of the adapter in ``adapter_dir`` and the base model's results from the same file.

    Matched on the adapter path recorded in each result (resolved), else on the folder name when
    exactly one evaluated adapter has it and its recorded path does not exist here (an evaluation run
    from another working directory or machine; an existing folder of that name is another adapter).
    """
    target = Path(adapter_dir).resolve()
    adapters = [entry for entry in entries if entry.get("adapter") is not None]
    mine = [entry for entry in adapters if (path := _adapter_path(entry)) and _resolved(path) == target]
    if not mine:
        # A path that exists here is another folder (resolved, it is not this one): never a match.
        by_name = [
            entry
            for entry in adapters
            if (path := _adapter_path(entry))
            and Path(path).name == target.name
            and not _resolved(path).exists()
        ]
        if by_name and len({_adapter_path(entry) for entry in by_name}) == 1:
            logger.warning(
                "results in %s name adapter %r, not %s; matched on the folder name %r",
                source,
                _adapter_path(by_name[0]),
                target,
                target.name,
            )
            mine = by_name
    if not mine and not any(_adapter_path(entry) for entry in adapters):
        # An older results.json records no adapter paths, only the adapter's name (its folder's, by default).
        mine = [entry for entry in adapters if entry["adapter"] == target.name]
        if mine:
            logger.warning(
                "results in %s record no adapter paths; matched the adapter named %r", source, target.name
            )
    if not mine:
        held = sorted({f"{entry['adapter']} ({_adapter_path(entry) or 'no path'})" for entry in adapters})
        raise DataError(
            f"{str(source)!r} holds no results for the adapter {str(target)!r}; it holds "
            f"{'adapters ' + ', '.join(held) if held else 'base-model results only'}. Evaluate this adapter with "
            f"`bioinstruct evaluate --model BASE --adapter {adapter_dir}`"
        )
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in mine:
        key = (entry["model"], *protocol_key(entry))
        if key in seen:
            raise DataError(
                f"{str(source)!r} scores the adapter twice on {entry['benchmark']} under the same protocol "
                f"({protocol_tag(entry)}, data: {_data_source(entry.get('protocol') or {})}; n={seen[key]['n']} "
                f"and n={entry['n']}); the card can show one: keep one of them in the file"
            )
        seen[key] = entry
    order = {name: position for position, name in enumerate(dict.fromkeys(e["benchmark"] for e in mine))}
    mine = sorted(mine, key=lambda entry: order[entry["benchmark"]])  # one benchmark's protocols together
    models = {entry["model"] for entry in mine}
    base = [entry for entry in entries if entry.get("adapter") is None and entry["model"] in models]
    return mine, base


def protocol_key(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two scores comparable: benchmark, protocol, shots, template, and the same items."""
    protocol = entry.get("protocol") or {}
    return (
        entry["benchmark"],
        protocol.get("protocol"),
        protocol.get("num_fewshot", 0),
        protocol.get("template"),
        protocol.get("data_source"),
        protocol.get("limit"),
    )


def protocol_tag(entry: Mapping[str, Any]) -> str:
    """``loglikelihood, 0-shot, bioinstruct template``."""
    _, word, shots, template, *_ = protocol_key(entry)
    return f"{word or '?'}, {shots}-shot, {template or '?'} template"


def protocol_slug(entry: Mapping[str, Any]) -> str:
    """``loglikelihood-0shot-bioinstruct``: the metric ``config`` in ``model-index``."""
    _, word, shots, template, *_ = protocol_key(entry)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{word or 'unknown'}-{shots}shot-{template or 'unknown'}")


def public_source(source: str | None) -> str:
    """A data source fit for a public card: a local file's name, not the machine's directories."""
    source = str(source or "?")
    if source.startswith("local file "):
        return "local file " + Path(source[len("local file ") :]).name
    return source


def public_path(value: Any) -> Any:
    """An absolute local path's last component (``/home/alice/runs/lora`` -> ``lora``); anything else as is.

    Why: cards, recipes and results are published, and a machine's directories name its users. Hub
    ids (``org/name``) and relative paths are not absolute, so they are kept.
    """
    if not isinstance(value, str) or not re.match(r"^(/|~|\\|[A-Za-z]:[\\/])", value):
        return value
    return re.split(r"[\\/]", value.rstrip("/\\"))[-1] or value


def public_copy(value: Any) -> Any:
    """``value`` (JSON-like) with every absolute local path and local data file reduced to its name."""
    if isinstance(value, dict):
        return {key: public_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [public_copy(item) for item in value]
    if isinstance(value, str) and value.startswith("local file "):
        return public_source(value)
    return public_path(value)


def _data_source(protocol: Mapping[str, Any]) -> str:
    return public_source(protocol.get("data_source"))


def protocol_line(entry: Mapping[str, Any]) -> str:
    protocol = entry.get("protocol") or {}
    parts = [protocol_tag(entry), f"n={entry['n']}", f"data: {_data_source(protocol)}"]
    if protocol.get("items"):
        parts.append(f"items: {protocol['items']}")
    if _limited(entry):
        parts.append(f"limited to the first {protocol['limit']} items")
    if entry.get("unparseable"):
        parts.append(f"{entry['unparseable']} of {entry['n']} answers unparseable (counted wrong)")
    parts += _baseline_parts(entry.get("diagnostics") or {}, entry["n"])
    line = "; ".join(parts)
    warnings = [str(w) for w in entry.get("warnings") or []]
    return line + "".join(f". **Warning**: {w}" for w in warnings)


def _baseline_parts(diagnostics: Mapping[str, Any], n: int) -> list[str]:
    """What the number must be read against: chance and majority baselines, empty/degenerate outputs."""
    parts = []
    if _is_number(diagnostics.get("chance_baseline")):
        parts.append(f"chance {_percent(diagnostics['chance_baseline']):.1f}%")
    if _is_number(diagnostics.get("majority_baseline")):
        label = diagnostics.get("majority_label")
        parts.append(
            f"majority baseline {_percent(diagnostics['majority_baseline']):.1f}%"
            + (f" (always {label!r})" if label is not None else "")
        )
    if diagnostics.get("letter_text_conflicts"):
        parts.append(
            f"{diagnostics['letter_text_conflicts']} letter/option-text conflicts (the letter counted)"
        )
    if diagnostics.get("empty") or diagnostics.get("degenerate"):
        parts.append(
            f"{diagnostics.get('empty', 0)} of {n} outputs empty, {diagnostics.get('degenerate', 0)} degenerate"
        )
    return parts


def _limited(entry: Mapping[str, Any]) -> bool:
    """Whether ``--limit`` cut the benchmark short (fewer items than the limit means all were scored)."""
    limit = (entry.get("protocol") or {}).get("limit")
    return bool(limit) and entry["n"] >= limit


def _percent(value: Any) -> float:
    return round(100.0 * float(value), 2)


def _cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return "–"
    text = f"{_percent(entry['metrics'][entry['primary_metric']]):.1f}"
    ci = entry.get("ci")
    if ci:
        text += f" [{_percent(ci[0]):.1f}, {_percent(ci[1]):.1f}]"
    return text


def _benchmark(name: str) -> Any:
    from bioinstruct.benchmarks import get_benchmark

    try:
        return get_benchmark(name)
    except BioInstructError:  # a benchmark registered only in the evaluating process
        return None


def eval_result_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``huggingface_hub.EvalResult`` for one result (values in %)."""
    protocol = entry.get("protocol") or {}
    bench = _benchmark(entry["benchmark"])
    task = protocol.get("task") or (bench.task if bench else "generation")
    hub = bench.hub if bench is not None else None
    source = str(protocol.get("data_source") or "")
    from_hub = hub is not None and bool(source) and not source.startswith("local file")  # unknown: no split
    metric = entry["primary_metric"]
    args: dict[str, Any] = {
        "protocol": protocol.get("protocol"),
        "num_fewshot": protocol.get("num_fewshot", 0),
        "template": protocol.get("template"),
        "n": entry["n"],
        "data_source": _data_source(protocol),
    }
    if _limited(entry):
        args["limit"] = protocol["limit"]
    if entry.get("ci"):
        args["ci95"] = [_percent(entry["ci"][0]), _percent(entry["ci"][1])]
    args = {key: value for key, value in args.items() if value is not None}  # YAML drops them: keep it exact
    return {
        "task_type": _TASK_TYPES.get(task, "text-generation"),
        "task_name": (bench.description if bench is not None and bench.description else entry["benchmark"]),
        "dataset_type": hub.path if hub is not None else entry["benchmark"],
        "dataset_name": entry["benchmark"],
        "dataset_config": hub.name if from_hub and hub.name else None,
        "dataset_split": hub.split if from_hub else None,
        "metric_type": _METRIC_TYPES.get(metric, metric),
        "metric_value": _percent(entry["metrics"][metric]),
        "metric_name": f"{metric} (%, {protocol_tag(entry)})",
        "metric_config": protocol_slug(entry),
        "metric_args": args,
    }


def evaluation_context(
    mine: list[dict[str, Any]], base: list[dict[str, Any]], data: Mapping[str, Any]
) -> dict[str, Any]:
    """The card's evaluation section: table rows (adapter vs base), protocol lines, model-index fields."""
    rows = []
    for entry in mine:
        key = protocol_key(entry)
        reference = next((b for b in base if protocol_key(b) == key and b["model"] == entry["model"]), None)
        delta = "–"
        if reference is not None:
            metric = entry["primary_metric"]
            diff = _percent(entry["metrics"][metric]) - _percent(reference["metrics"][metric])
            delta = f"{diff:+.1f}"
        rows.append(
            {
                "benchmark": entry["benchmark"],
                "metric": entry["primary_metric"],
                "protocol": protocol_tag(entry),
                "adapter": _cell(entry),
                "base": _cell(reference),
                "delta": delta,
                "protocol_line": protocol_line(entry),
            }
        )
    skipped = {str(name): str(reason) for name, reason in (data.get("skipped") or {}).items()}
    return {
        "base_model": public_path(sorted({entry["model"] for entry in mine})[0]),
        "rows": rows,
        "skipped": skipped,
        "eval_results": [eval_result_fields(entry) for entry in mine],
        "results_file": RESULTS_FILE,
    }


def evaluation_for_adapter(
    results: str | Path, adapter_dir: str | Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(card evaluation context, results.json content for the repo)`` of the adapter in ``adapter_dir``.

    The repo's results.json holds this adapter's results and the base model's (without samples).
    """
    data, file = load_results_file(results)
    mine, base = select_for_adapter(data["results"], adapter_dir, file)
    published = public_copy({"results": mine + base, "skipped": data.get("skipped") or {}})
    return evaluation_context(mine, base, data), published
