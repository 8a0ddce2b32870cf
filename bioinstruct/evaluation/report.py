"""Evaluation results and the files a run leaves: results.json, samples, results.md, a chart.

Why the protocol travels with every number: papers mix log-likelihood and generative scoring,
shot counts and prompt templates without saying so, and the numbers are then not comparable.
Here each (benchmark, model, adapter) result carries its protocol, and ``results.md`` prints
it under the table. Each result also carries its diagnostics (prediction distribution, chance and
majority baselines, empty/degenerate shares; see :mod:`bioinstruct.evaluation.diagnostics`) and
the warnings they raise, because a number that equals "always answer A" is not a result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.evaluation.diagnostics import CONSTANT_SHARE, warnings_for
from bioinstruct.evaluation.protocol_report import gap_table, multi_protocol, protocol_gaps, unparseable_line
from bioinstruct.evaluation.protocols import NAME_OF_WORD
from bioinstruct.evaluation.report_tables import checks_table, judge_table
from bioinstruct.jsonio import iter_jsonl, write_records, write_text_atomically

RESULTS_FILE = "results.json"
MARKDOWN_FILE = "results.md"
CHART_FILE = "results.png"


logger = logging.getLogger(__name__)


@dataclass
class BenchmarkResult:
    """One benchmark scored for one model variant (the bare base, or one adapter)."""

    benchmark: str
    model: str
    adapter: str | None
    metrics: dict[str, float]
    n: int
    primary_metric: str = "accuracy"
    #: Generative answers that named no choice (counted wrong); None under log-likelihood.
    unparseable: int | None = None
    #: 95% bootstrap confidence interval of the primary metric, when one is defined.
    ci: tuple[float, float] | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: Prediction distribution and baselines (multiple choice) or empty/degenerate shares (text).
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        """Column label: the model's folder/repo name, or ``model + adapter``."""
        name = self.model.rstrip("/").split("/")[-1] or self.model
        return name if self.adapter is None else f"{name} + {self.adapter}"

    @property
    def protocol_name(self) -> str:
        """``loglik``, ``generate`` or ``cot``: which protocol scored it (with the model, its identity)."""
        word = str(self.protocol.get("protocol", ""))
        return str(self.protocol.get("name") or NAME_OF_WORD.get(word, word))

    @property
    def score(self) -> float:
        return self.metrics[self.primary_metric]

    @property
    def judge_metrics(self) -> dict[str, float]:
        """The judge's mean score per axis (1-5 scale), without the counts."""
        counts = {"judge_n", "judge_unscored", "judge_copied_example"}
        return {k: v for k, v in self.metrics.items() if k.startswith("judge_") and k not in counts}

    @property
    def warnings(self) -> list[str]:
        """One line per thing a reader of this number must know (constant answers, empty outputs, ...)."""
        cot = self.protocol_name == "cot"
        label = f"{self.variant}, cot" if cot else self.variant  # the same benchmark also ran under loglik
        lines = warnings_for(self.benchmark, label, self.diagnostics, self.n)
        share = self.diagnostics.get("unparseable_share", 0.0)
        if cot and 0.5 <= share < CONSTANT_SHARE:  # (at the constant share warnings_for has said it)
            budget = (self.protocol.get("cot") or {}).get("max_new_tokens")
            lines.append(
                f"{self.benchmark} ({label}): {100 * share:.0f}% of the replies state no parseable answer "
                f"(counted wrong); a reply cut at the budget ({budget} new tokens, --cot-max-new-tokens) "
                "before its 'Answer:' line is one of them"
            )
        if "judge_n" in self.metrics:
            judged = int(self.metrics["judge_n"]) + int(self.metrics.get("judge_unscored", 0))
            if self.metrics["judge_n"] < judged:
                lines.append(
                    f"{self.benchmark} ({self.variant}): the judge scored {int(self.metrics['judge_n'])} of "
                    f"{judged} items; its means cover only those"
                )
            if self.metrics.get("judge_copied_example"):
                lines.append(
                    f"{self.benchmark} ({self.variant}): {int(self.metrics['judge_copied_example'])} judge "
                    "replies copy the prompt's example scores verbatim"
                )
        return lines

    def add_judgement(self, judged: Any) -> None:
        """Record a :class:`~bioinstruct.evaluation.judge.JudgeResult` for this result's samples.

        The means go into ``metrics`` with how many items they stand on beside them
        (``judge_n``, ``judge_unscored``, ``judge_copied_example``); each sample keeps its scores
        (None when unscored), the judge's raw reply and why it could not be used.
        """
        n = len(judged.per_item)
        replies = list(getattr(judged, "replies", None) or [None] * n)
        errors = list(getattr(judged, "errors", None) or [None] * n)
        copied = list(getattr(judged, "copied", None) or [False] * n)
        scored = sum(1 for scores in judged.per_item if scores)
        self.metrics.update({f"judge_{axis}": float(value) for axis, value in judged.summary.items()})
        self.metrics.update(
            {"judge_n": scored, "judge_unscored": n - scored, "judge_copied_example": sum(copied)}
        )
        for i, (sample, scores) in enumerate(zip(self.samples, judged.per_item, strict=True)):
            sample["judge"] = scores or None
            sample["judge_reply"] = replies[i]
            if errors[i]:
                sample["judge_error"] = errors[i]
            if copied[i]:
                sample["judge_copied_example"] = True
        self.protocol["judge"] = {**judged.protocol, "cost_usd": judged.cost_usd}

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("samples")
        data["ci"] = list(self.ci) if self.ci is not None else None
        data["warnings"] = self.warnings
        return data


@dataclass
class EvalResults:
    """All results of one or more runs; ``a + b`` combines runs of different models."""

    results: list[BenchmarkResult]
    #: Group members that were not run, with the reason (e.g. local data not supplied).
    skipped: dict[str, str] = field(default_factory=dict)

    def __add__(self, other: EvalResults) -> EvalResults:
        return EvalResults(self.results + other.results, {**self.skipped, **other.skipped})

    def get(
        self,
        benchmark: str,
        adapter: str | None = None,
        model: str | None = None,
        protocol: str | None = None,
    ) -> BenchmarkResult:
        """The result of ``benchmark`` for ``adapter`` (None: the base); ``protocol`` (``loglik``,
        ``generate``, ``cot``) picks one where several ran (default: the first)."""
        for result in self.results:
            if (
                result.benchmark == benchmark
                and result.adapter == adapter
                and model in (None, result.model)
                and protocol in (None, result.protocol_name)
            ):
                return result
        extra = f", protocol {protocol!r}" if protocol else ""
        raise KeyError(f"no result for benchmark {benchmark!r}, adapter {adapter!r}{extra}")

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(result.benchmark for result in self.results))

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(result.variant for result in self.results))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "results": [result.summary() for result in self.results],
            "skipped": self.skipped,
        }
        gaps = protocol_gaps(self.results)
        if gaps:  # derived from the results (recomputed on load): loglik vs CoT per benchmark and variant
            data["protocol_gaps"] = gaps
        return data

    def to_markdown(self) -> str:
        """A table (benchmarks as rows, model variants as columns) and each benchmark's protocol.

        A benchmark run under several protocols (``--protocol loglik,cot``) has a row per protocol,
        a protocol column appears, and the "loglik vs CoT" table gives the gap per variant.
        """
        variants = self.variants
        several = multi_protocol(self.results)

        def key(r: BenchmarkResult) -> tuple[str, str | None]:
            return r.benchmark, r.protocol_name if r.benchmark in several else None

        cells = {(*key(r), r.variant): r for r in self.results}
        rows = list(dict.fromkeys(key(r) for r in self.results))
        column = "protocol | " if several else ""
        lines = [
            f"| benchmark | {column}metric | " + " | ".join(variants) + " |",
            "|---|---|" + ("---|" if several else "") + "---:|" * len(variants),
        ]
        for name, protocol in rows:
            first = next(r for r in self.results if key(r) == (name, protocol))
            row = [_cell(cells.get((name, protocol, variant))) for variant in variants]
            shown = f"{first.protocol.get('protocol', first.protocol_name)} | " if several else ""
            lines.append(f"| {name} | {shown}{first.primary_metric} | " + " | ".join(row) + " |")
        lines += [
            "",
            "Scores in %, with the 95% bootstrap confidence interval in brackets.",
            "",
            "Protocols:",
            "",
        ]
        for name, protocol in rows:
            group = [r for r in self.results if key(r) == (name, protocol)]
            label = f"**{name}** ({protocol})" if protocol else f"**{name}**"
            lines.append(f"- {label}: {_protocol_line(group[0])}")
            for result in (r for r in group if r.unparseable or r.protocol_name == "cot"):  # CoT: even 0
                lines.append(f"  - {result.variant}: {unparseable_line(result)}")
        for name, reason in self.skipped.items():
            lines.append(f"- **{name}**: skipped ({reason})")
        lines += checks_table(self.results, several) + gap_table(self.results) + judge_table(self.results)
        warnings = [line for result in self.results for line in result.warnings]
        if warnings:
            lines += ["", "Warnings:", "", *(f"- {line}" for line in warnings)]
        return "\n".join(lines) + "\n"

    def save(self, directory: str | Path) -> Path:
        """Write results.json, samples/<benchmark>.jsonl, results.md and (several variants) results.png."""
        out = Path(directory)
        (out / "samples").mkdir(parents=True, exist_ok=True)
        # Each file is written atomically: a run killed while saving leaves old files or new ones.
        write_text_atomically(
            out / RESULTS_FILE, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        )
        for name in self.benchmarks:
            rows = (
                {"model": result.model, "adapter": result.adapter, "protocol": result.protocol_name, **sample}
                for result in self.results
                if result.benchmark == name
                for sample in result.samples
            )
            write_records(out / "samples" / f"{name}.jsonl", rows, jsonl=True)
        write_text_atomically(out / MARKDOWN_FILE, self.to_markdown())
        if len(self.variants) > 1:
            self.plot(out / CHART_FILE)
        return out

    def plot(self, path: str | Path) -> Path:
        """Grouped bars of the primary metric per variant, CI as error bars (see :func:`bioinstruct.plots.results_png`)."""
        from bioinstruct.plots import results_png

        several = multi_protocol(self.results)
        bars = [
            replace(r, benchmark=f"{r.benchmark} ({r.protocol_name})") if r.benchmark in several else r
            for r in self.results
        ]
        return results_png(bars, path)

    @classmethod
    def load(cls, directory: str | Path) -> EvalResults:
        """Read a saved results.json (samples included when present)."""
        directory = Path(directory)
        try:
            data = json.loads((directory / RESULTS_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read {str(directory / RESULTS_FILE)!r}: {err}") from err
        where = str(directory / RESULTS_FILE)
        entries = data.get("results") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise DataError(
                f"{where}: expected an object with a 'results' list (written by bioinstruct evaluate)"
            )
        known = {f.name for f in fields(BenchmarkResult)}
        required = {
            f.name for f in fields(BenchmarkResult) if f.default is MISSING and f.default_factory is MISSING
        }
        results, ignored = [], set()
        for number, entry in enumerate(entries, start=1):
            missing = sorted(required - set(entry)) if isinstance(entry, dict) else ["(not an object)"]
            if missing:
                raise DataError(f"{where}: result {number} lacks {', '.join(missing)}")
            ignored |= set(entry) - known - {"warnings"}  # warnings: derived from the diagnostics, recomputed
            entry = {key: value for key, value in entry.items() if key in known}
            entry["ci"] = tuple(entry["ci"]) if entry.get("ci") else None
            result = BenchmarkResult(**entry)
            result.samples = list(_samples_for(directory, result))
            results.append(result)
        if ignored:  # a newer bioinstruct wrote it: read what this version knows, say so once
            logger.warning(
                "%s: ignored result fields this version does not know: %s", where, ", ".join(sorted(ignored))
            )
        return cls(results, data.get("skipped", {}))


def _samples_for(directory: Path, result: BenchmarkResult) -> Iterable[dict[str, Any]]:
    path = directory / "samples" / f"{result.benchmark}.jsonl"
    if not path.is_file():
        return
    for row in iter_jsonl(path):  # DataError names the file and line of a damaged sample
        protocol = row.pop("protocol", None)  # absent in files written before results had protocols
        if (
            row.pop("model", None) == result.model
            and row.pop("adapter", None) == result.adapter
            and protocol in (None, result.protocol_name)
        ):
            yield row


def _cell(result: BenchmarkResult | None) -> str:
    if result is None:
        return "–"
    text = f"{100 * result.score:.1f}"
    if result.ci is not None:
        text += f" [{100 * result.ci[0]:.1f}, {100 * result.ci[1]:.1f}]"
    return text


def _protocol_line(result: BenchmarkResult) -> str:
    p = result.protocol
    template = f"template {p.get('template', '?')!r}"
    if p.get("chat_template"):
        template += f" ({p['chat_template']})"
    parts = [
        p.get("protocol", "?"),
        f"{p.get('num_fewshot', 0)}-shot",
        template,
        f"n={result.n}",
        f"data: {p.get('data_source', '?')}",
    ]
    if p.get("items"):
        parts.append(f"items: {p['items']}")
    if p.get("limit"):
        parts.append(f"limited to the first {p['limit']} items")
    cot = p.get("cot")
    if isinstance(cot, dict):
        if cot.get("samples", 1) > 1:
            parts.append(
                f"self-consistency over {cot['samples']} samples at temperature {cot.get('temperature')}, "
                f"up to {cot.get('max_new_tokens')} new tokens each ({cot.get('vote')})"
            )
        else:
            parts.append(f"one greedy reply of up to {cot.get('max_new_tokens')} new tokens")
        parts.append(f"answer extraction: {cot.get('extraction_rule')}")
    return "; ".join(parts)
