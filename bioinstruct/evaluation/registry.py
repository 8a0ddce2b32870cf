"""The benchmark registry: one small declaration per benchmark, looked up by name or group.

Why a registry of declarations (as lm-eval's YAML tasks and lighteval's task configs): a
benchmark is *data about* a dataset (where it lives, how a row becomes a question, how it is
scored), not code that runs a model. Keeping it declarative lets every benchmark go through
the same evaluator, backends, cache and report, and lets the protocol be written next to
every number.

How to declare a benchmark (about 20 lines)::

    from bioinstruct.evaluation.registry import Benchmark, HubSource, Item, register_benchmark

    def _medqa_item(row: dict, index: int) -> Item:
        letters = sorted(row["options"])
        return Item(
            id=str(index),
            instruction="Answer the multiple-choice question with the letter of the correct option.",
            input=row["question"] + "\\n" + "\\n".join(f"{k}. {row['options'][k]}" for k in letters),
            choices=[row["options"][k] for k in letters],
            labels=letters,
            gold=letters.index(row["answer_idx"]),
        )

    register_benchmark(Benchmark(
        name="medqa", groups=("qa", "paper"), task="multiple_choice",
        hub=HubSource("GBaker/MedQA-USMLE-4-options", split="test"),
        fewshot_hub=HubSource("GBaker/MedQA-USMLE-4-options", split="train"),
        to_item=_medqa_item, description="MedQA-USMLE, 4 options",
    ))

``register_benchmark`` also works as a decorator on a zero-argument function returning a
``Benchmark``. Two kinds of task exist:

* ``multiple_choice``: ``Item.choices``/``labels``/``gold`` are set; both protocols work
  (log-likelihood over the labels, or generation parsed back to a choice); metric: accuracy.
* ``generation``: ``Item.reference`` holds the gold answer (any JSON value); the model
  generates up to ``max_new_tokens``; ``corpus_metrics(predictions, references, rows)``
  returns a dict of floats over all items (micro F1, ROUGE, ...); the optional
  ``item_score(prediction, reference, row)`` gives the per-item score written to samples and
  used for the bootstrap CI of ``primary_metric``.

Local-only data (credentialed or registration-gated) has ``hub=None`` and a ``how_to_get``
message; the user passes ``data_files={"name": path}`` (``--data-file name=path``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bioinstruct.errors import ConfigError, DataError

TaskKind = Literal["multiple_choice", "generation"]


@dataclass(frozen=True)
class HubSource:
    """Where a split lives on the Hugging Face Hub: ``load_dataset(path, name, split=split)``."""

    path: str
    name: str | None = None
    split: str = "test"

    def describe(self) -> str:
        config = f"/{self.name}" if self.name else ""
        return f"{self.path}{config} [{self.split}]"


@dataclass
class Item:
    """One benchmark question, independent of any prompt template.

    ``instruction`` + ``input`` are what the paper's template puts under ``### Instruction:``
    and ``### Input:``; the plain and chat templates join them. For multiple choice,
    ``labels[i]`` is what the model must say for ``choices[i]`` (a letter, or ``yes``/``no``);
    ``gold`` indexes both. For generation, ``reference`` is the gold answer.
    """

    id: str
    instruction: str
    input: str = ""
    choices: list[str] | None = None
    labels: list[str] | None = None
    gold: int | None = None
    reference: Any = None
    #: The source question without any template (what an LLM judge is shown).
    question: str | None = None
    #: What a few-shot demonstration shows as its answer, when not derivable from the fields above.
    demo_answer: str | None = None

    @property
    def answer_text(self) -> str:
        """The gold answer as the model should write it (used for few-shot demonstrations)."""
        if self.demo_answer is not None:
            return self.demo_answer
        if self.labels is not None and self.gold is not None:
            return self.labels[self.gold]
        if isinstance(self.reference, str):
            return self.reference
        if isinstance(self.reference, list | tuple):
            return ", ".join(str(part) for part in self.reference) or "none"
        return "" if self.reference is None else str(self.reference)


CorpusMetrics = Callable[[list[str], list[Any], list[dict]], dict[str, float]]
ItemScore = Callable[[str, Any, dict], float]
CorpusCI = Callable[[list[str], list[Any], list[dict]], tuple[float, float]]


@dataclass
class Benchmark:
    """The declaration of one benchmark. Every field but the first four has a default."""

    name: str
    groups: tuple[str, ...]
    task: TaskKind
    #: row (in the Hub schema) and its 0-based position -> Item.
    to_item: Callable[[dict, int], Item]
    hub: HubSource | None = None
    #: Where few-shot demonstrations come from (a train split), if anywhere.
    fewshot_hub: HubSource | None = None
    #: Reads a local file into rows of the Hub schema; default: JSON list / JSONL / JSON dict of rows.
    read_local: Callable[[Path], list[dict]] | None = None
    #: Shown when local data is required but absent (credentialed / registration-gated sets).
    how_to_get: str | None = None
    #: Which items are scored, in words (recorded in the protocol).
    items_note: str = ""
    #: The same when a benchmark with a Hub source is read from a supplied file instead; ``{n}`` is
    #: its row count. Default: "every row of the supplied file ({n} rows)".
    local_items_note: str | None = None
    description: str = ""
    max_new_tokens: int = 16
    #: Shots used when the caller does not choose (the paper: 0 for QA, 1 for IE/generation).
    default_num_fewshot: int = 0
    corpus_metrics: CorpusMetrics | None = None
    item_score: ItemScore | None = None
    #: 95% CI of ``primary_metric`` from all predictions (e.g. a bootstrap over per-item F1 counts);
    #: without it the evaluator bootstraps ``item_score`` values.
    ci: CorpusCI | None = None
    #: The metric shown in tables and charts (``accuracy`` for multiple choice).
    primary_metric: str = "accuracy"
    #: Axes an LLM judge scores each prediction on, when a judge is configured.
    judge_axes: tuple[str, ...] = ()
    citation: str = ""

    def __post_init__(self) -> None:
        if self.task not in ("multiple_choice", "generation"):
            raise ConfigError(
                f"benchmark {self.name!r}: task must be 'multiple_choice' or 'generation', got {self.task!r}"
            )
        if self.task == "generation" and self.corpus_metrics is None and self.item_score is None:
            raise ConfigError(
                f"benchmark {self.name!r}: a generation benchmark needs corpus_metrics or item_score"
            )
        if isinstance(self.groups, str):
            self.groups = (self.groups,)

    @property
    def needs_local_data(self) -> bool:
        return self.hub is None

    @property
    def source(self) -> str:
        return self.hub.describe() if self.hub else "local file"

    @property
    def metric_names(self) -> str:
        return "accuracy" if self.task == "multiple_choice" else self.primary_metric

    def load_rows(self, data_file: str | Path | None = None) -> list[dict]:
        """Rows in the Hub schema, from ``data_file`` when given, else from the Hub."""
        if data_file is not None:
            return self._read_file(Path(data_file))
        if self.hub is None:
            raise DataError(
                f"benchmark {self.name!r} needs local data: {self.how_to_get or 'pass data_files'}"
            )
        return load_hub_rows(self.hub, self.name)

    def load_fewshot_rows(self, data_file: str | Path | None = None) -> list[dict]:
        """Rows to draw demonstrations from: a supplied file, else the Hub train split."""
        if data_file is not None:
            return self._read_file(Path(data_file))
        if self.fewshot_hub is None:
            raise ConfigError(
                f"benchmark {self.name!r} has no train split to draw few-shot demonstrations from; "
                f"pass fewshot_files={{'{self.name}': path}} (--fewshot-file {self.name}=path) or use 0 shots"
            )
        return load_hub_rows(self.fewshot_hub, self.name, fewshot=True)

    def describe_items(self, data_file: str | Path | None, n_rows: int) -> str:
        """Which items are scored, in words, for the protocol (the Hub split, or the supplied file)."""
        if data_file is None or self.hub is None:
            return self.items_note
        return (self.local_items_note or "every row of the supplied file ({n} rows)").format(n=n_rows)

    def _read_file(self, path: Path) -> list[dict]:
        if not path.exists():
            hint = f" {self.how_to_get}" if self.how_to_get else ""
            raise DataError(f"benchmark {self.name!r}: data file {str(path)!r} not found.{hint}")
        reader = self.read_local or read_json_rows
        try:
            rows = reader(path)
        except (OSError, UnicodeDecodeError) as err:  # a folder, a binary file, no permission
            raise DataError(
                f"benchmark {self.name!r}: cannot read data file {str(path)!r} ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:200] if str(err) else ''}); pass a JSON/JSONL file in the schema of {self.source}"
            ) from err
        if not rows:
            raise DataError(f"benchmark {self.name!r}: data file {str(path)!r} holds no rows")
        return rows

    def items(self, rows: Sequence[dict], *, source: str = "") -> list[Item]:
        """Convert rows to items, turning a missing field into a DataError that names it."""
        items = []
        for index, row in enumerate(rows):
            try:
                items.append(self.to_item(row, index))
            except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
                where = f" in {source}" if source else ""
                raise DataError(
                    f"benchmark {self.name!r}: row {index}{where} does not match the expected schema "
                    f"({type(err).__name__}: {err}); expected the fields of {self.source}"
                ) from err
        return items


def read_json_rows(path: Path) -> list[dict]:
    """Read JSONL, a JSON list of rows, or a JSON object of rows keyed by id (``_key`` keeps the key).

    A single JSON object whose values are not all objects is one row (a one-line JSONL file).
    """
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    try:
        if stripped.startswith("[") or (stripped.startswith("{") and _is_single_json(stripped)):
            data = json.loads(text)
        else:
            data = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        data.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise DataError(
                            f"{str(path)!r} is not valid JSON/JSONL (line {number}: {err.msg})"
                        ) from err
    except json.JSONDecodeError as err:
        raise DataError(f"{str(path)!r} is not valid JSON/JSONL (line {err.lineno}: {err.msg})") from err
    if isinstance(data, dict):
        # {id: row, ...} (e.g. PubMedQA's ori_pqal.json) -> rows keeping the id; else one row (1-line JSONL).
        is_keyed = bool(data) and all(isinstance(value, dict) for value in data.values())
        data = [{"_key": key, **value} for key, value in data.items()] if is_keyed else [data]
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DataError(f"{str(path)!r} must hold JSON objects (one per line, a list, or a dict of them)")
    return data


def _is_single_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def load_hub_rows(source: HubSource, benchmark: str, *, fewshot: bool = False) -> list[dict]:
    """``datasets.load_dataset`` with a one-line error that says what to do when it fails.

    ``fewshot``: the rows are a demonstration pool, so the hint names ``--fewshot-file``.
    """
    from bioinstruct.offline import ensure_offline_mode_if_unreachable

    ensure_offline_mode_if_unreachable()  # before datasets reads its offline switch: no minute of retries
    import datasets

    option, flag = ("fewshot_files", "--fewshot-file") if fewshot else ("data_files", "--data-file")

    try:
        dataset = datasets.load_dataset(source.path, source.name, split=source.split)
    except Exception as err:  # noqa: BLE001 - any Hub failure becomes one actionable line
        from bioinstruct.offline import offline_by_environment

        if offline_by_environment():
            why, advice = "it is not in the local Hugging Face cache and the Hub is offline", ""
        else:
            why = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
            advice = "check the network or "
        raise DataError(
            f"benchmark {benchmark!r}: could not load {source.describe()} from the Hugging Face Hub ({why}); "
            f"{advice}pass a local copy with {option}={{'{benchmark}': path}} ({flag} {benchmark}=path)"
        ) from err
    return [dict(row) for row in dataset]


_REGISTRY: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark | Callable[[], Benchmark]) -> Any:
    """Add a benchmark. Call with a ``Benchmark``, or decorate a function that returns one."""
    declared = benchmark() if callable(benchmark) and not isinstance(benchmark, Benchmark) else benchmark
    if not isinstance(declared, Benchmark):
        raise ConfigError(f"register_benchmark expects a Benchmark, got {type(declared).__name__}")
    if declared.name in _GROUP_NAMES():
        raise ConfigError(f"benchmark name {declared.name!r} clashes with a group name")
    _REGISTRY[declared.name] = declared
    return benchmark


def _load_builtins() -> None:
    from bioinstruct.evaluation import benchmarks  # noqa: F401 - registers on import


def _GROUP_NAMES() -> set[str]:  # noqa: N802 - reads as a constant
    return {group for bench in _REGISTRY.values() for group in bench.groups}


def list_benchmarks(group: str | None = None) -> list[Benchmark]:
    """All registered benchmarks (optionally one group), in registration order."""
    _load_builtins()
    return [bench for bench in _REGISTRY.values() if group is None or group in bench.groups]


def list_groups() -> dict[str, list[str]]:
    """Group name -> benchmark names."""
    _load_builtins()
    groups: dict[str, list[str]] = {}
    for bench in _REGISTRY.values():
        for group in bench.groups:
            groups.setdefault(group, []).append(bench.name)
    return groups


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; a typo gets a "did you mean" suggestion."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = sorted(_REGISTRY) + sorted(list_groups())
    lowered = {k.lower(): k for k in known}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ConfigError(f"unknown benchmark {name!r}; {hint}known: {', '.join(known)}")


def resolve_benchmarks(spec: str | Sequence[str]) -> list[Benchmark]:
    """Expand names and groups (``"medqa,pubmedqa"``, ``"qa"``, ``["paper"]``), keeping order, no repeats."""
    names = [part.strip() for part in (spec.split(",") if isinstance(spec, str) else spec) if part.strip()]
    if not names:
        raise ConfigError("no benchmark given; run `bioinstruct benchmarks` to list them")
    groups = list_groups()
    resolved: dict[str, Benchmark] = {}
    for name in names:
        if name in groups and name not in _REGISTRY:
            for member in groups[name]:
                resolved.setdefault(member, _REGISTRY[member])
        else:
            resolved.setdefault(name, get_benchmark(name))
    return list(resolved.values())


__all__ = [
    "Benchmark",
    "HubSource",
    "Item",
    "get_benchmark",
    "list_benchmarks",
    "list_groups",
    "load_hub_rows",
    "read_json_rows",
    "register_benchmark",
    "resolve_benchmarks",
]
