"""Evaluation results and the files a run leaves: results.json, samples, results.md, a chart.

Why the protocol travels with every number: papers mix log-likelihood and generative scoring,
shot counts and prompt templates without saying so, and the numbers are then not comparable.
Here each (benchmark, model, adapter) result carries its protocol, and ``results.md`` prints
it under the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError

RESULTS_FILE = "results.json"
MARKDOWN_FILE = "results.md"
CHART_FILE = "results.png"


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

    @property
    def variant(self) -> str:
        """Column label: the model's folder/repo name, or ``model + adapter``."""
        name = self.model.rstrip("/").split("/")[-1] or self.model
        return name if self.adapter is None else f"{name} + {self.adapter}"

    @property
    def score(self) -> float:
        return self.metrics[self.primary_metric]

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("samples")
        data["ci"] = list(self.ci) if self.ci is not None else None
        return data


@dataclass
class EvalResults:
    """All results of one or more runs; ``a + b`` combines runs of different models."""

    results: list[BenchmarkResult]
    #: Group members that were not run, with the reason (e.g. local data not supplied).
    skipped: dict[str, str] = field(default_factory=dict)

    def __add__(self, other: EvalResults) -> EvalResults:
        return EvalResults(self.results + other.results, {**self.skipped, **other.skipped})

    def get(self, benchmark: str, adapter: str | None = None, model: str | None = None) -> BenchmarkResult:
        for result in self.results:
            if result.benchmark == benchmark and result.adapter == adapter and model in (None, result.model):
                return result
        raise KeyError(f"no result for benchmark {benchmark!r}, adapter {adapter!r}")

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(result.benchmark for result in self.results))

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(result.variant for result in self.results))

    def to_dict(self) -> dict[str, Any]:
        return {"results": [result.summary() for result in self.results], "skipped": self.skipped}

    def to_markdown(self) -> str:
        """A table (benchmarks as rows, model variants as columns) and each benchmark's protocol."""
        variants = self.variants
        cells = {(r.benchmark, r.variant): r for r in self.results}
        lines = [
            "| benchmark | metric | " + " | ".join(variants) + " |",
            "|---|---|" + "---:|" * len(variants),
        ]
        for name in self.benchmarks:
            first = next(r for r in self.results if r.benchmark == name)
            row = [_cell(cells.get((name, variant))) for variant in variants]
            lines.append(f"| {name} | {first.primary_metric} | " + " | ".join(row) + " |")
        lines += [
            "",
            "Scores in %, with the 95% bootstrap confidence interval in brackets.",
            "",
            "Protocols:",
            "",
        ]
        for name in self.benchmarks:
            first = next(r for r in self.results if r.benchmark == name)
            lines.append(f"- **{name}**: {_protocol_line(first)}")
            for result in (r for r in self.results if r.benchmark == name and r.unparseable):
                lines.append(
                    f"  - {result.variant}: {result.unparseable} of {result.n} answers unparseable (counted wrong)"
                )
        for name, reason in self.skipped.items():
            lines.append(f"- **{name}**: skipped ({reason})")
        return "\n".join(lines) + "\n"

    def save(self, directory: str | Path) -> Path:
        """Write results.json, samples/<benchmark>.jsonl, results.md and (several variants) results.png."""
        out = Path(directory)
        (out / "samples").mkdir(parents=True, exist_ok=True)
        (out / RESULTS_FILE).write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        for name in self.benchmarks:
            with (out / "samples" / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
                for result in (r for r in self.results if r.benchmark == name):
                    for sample in result.samples:
                        row = {"model": result.model, "adapter": result.adapter, **sample}
                        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        (out / MARKDOWN_FILE).write_text(self.to_markdown(), encoding="utf-8")
        if len(self.variants) > 1:
            self.plot(out / CHART_FILE)
        return out

    def plot(self, path: str | Path) -> Path:
        """Grouped bar chart of the primary metric, one bar per variant, CI as error bars."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names, variants = self.benchmarks, self.variants
        cells = {(r.benchmark, r.variant): r for r in self.results}
        width = 0.8 / len(variants)
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(names) * len(variants) ** 0.5 + 2), 4.2))
        for v, variant in enumerate(variants):
            xs, heights, errors = [], [], [[], []]
            for b, name in enumerate(names):
                result = cells.get((name, variant))
                if result is None:
                    continue
                score = 100 * result.score
                low, high = (100 * result.ci[0], 100 * result.ci[1]) if result.ci else (score, score)
                xs.append(b + (v - (len(variants) - 1) / 2) * width)
                heights.append(score)
                errors[0].append(max(0.0, score - low))
                errors[1].append(max(0.0, high - score))
            ax.bar(xs, heights, width, yerr=errors, capsize=3, label=variant)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("score (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        ax.set_title("bioinstruct evaluation (95% bootstrap CI)")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return Path(path)

    @classmethod
    def load(cls, directory: str | Path) -> EvalResults:
        """Read a saved results.json (samples included when present)."""
        directory = Path(directory)
        try:
            data = json.loads((directory / RESULTS_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read {str(directory / RESULTS_FILE)!r}: {err}") from err
        results = []
        for entry in data["results"]:
            entry["ci"] = tuple(entry["ci"]) if entry.get("ci") else None
            result = BenchmarkResult(**entry)
            result.samples = list(_samples_for(directory, result))
            results.append(result)
        return cls(results, data.get("skipped", {}))


def _samples_for(directory: Path, result: BenchmarkResult) -> Iterable[dict[str, Any]]:
    path = directory / "samples" / f"{result.benchmark}.jsonl"
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.pop("model") == result.model and row.pop("adapter") == result.adapter:
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
    parts = [
        p.get("protocol", "?"),
        f"{p.get('num_fewshot', 0)}-shot",
        f"template {p.get('template', '?')!r}",
        f"n={result.n}",
        f"data: {p.get('data_source', '?')}",
    ]
    if p.get("items"):
        parts.append(f"items: {p['items']}")
    if p.get("limit"):
        parts.append(f"limited to the first {p['limit']} items")
    return "; ".join(parts)
