"""What a benchmark is: a :class:`Benchmark` declaration, the :class:`Item` its rows become.

Why data and not code (as lm-eval's YAML tasks and lighteval's task configs): a benchmark is
*data about* a dataset (where it lives, the task's instruction, how a row becomes a question,
which metric scores it), so every field of a declaration is plain data that a YAML file holds
(``tasks/*.yaml``). The only Python is the item converters, file readers and scorers, which a
declaration names (``to_item: multiple_choice``, ``read_local: bioasq``, ``metric: entity``);
``functions.py`` holds them by name, and a Python caller may pass a callable instead of a name.

Two kinds of task exist:

* ``multiple_choice``: ``Item.choices``/``labels``/``gold`` are set; both protocols work
  (log-likelihood over the labels, or generation parsed back to a choice); metric: accuracy.
* ``generation``: ``Item.reference`` holds the gold answer (any JSON value); the model
  generates up to ``max_new_tokens``; ``corpus_metrics(predictions, references, rows)`` returns
  a dict of floats over all items; the optional ``item_score(prediction, reference, row)`` gives
  the per-item score written to samples and bootstrapped for the CI of ``primary_metric``.

Local-only data (credentialed or registration-gated) has ``hub=None`` and a ``how_to_get``
message; the user passes ``data_files={"name": path}`` (``--data-file name=path``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bioinstruct.errors import ConfigError, DataError

TaskKind = Literal["multiple_choice", "generation"]
CorpusMetrics = Callable[[list[str], list[Any], list[dict]], dict[str, float]]
ItemScore = Callable[[str, Any, dict], float]
CorpusCI = Callable[[list[str], list[Any], list[dict]], tuple[float, float]]


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
    #: Text the ``plain`` template puts once at the very start of the prompt, before any
    #: demonstration (the declaration's ``preamble``: lm-eval's task ``description``).
    preamble: str = ""

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


@dataclass
class Benchmark:
    """The declaration of one benchmark. Every field but the first four has a default.

    ``to_item``, ``read_local`` and ``metric`` name functions of :mod:`.functions`; ``to_item``
    and ``read_local`` may also be callables (``to_item(row, index) -> Item``), and the scorer's
    three functions may be given directly (``corpus_metrics``, ``item_score``, ``ci``).
    """

    name: str
    groups: tuple[str, ...]
    task: TaskKind
    #: A converter name (``functions.CONVERTERS``) or a callable ``(row, index) -> Item``.
    to_item: str | Callable[[dict, int], Item]
    #: The task's instruction shown to the model; converters fill ``{field}`` placeholders.
    instruction: str = ""
    #: Put once before the ``plain`` prompt and its demonstrations, as lm-eval's task ``description``
    #: (MMLU: "The following are multiple choice questions (with answers) about anatomy.\n\n");
    #: the other templates show ``instruction`` instead.
    preamble: str = ""
    #: Parameters of the converter and scorer (field names, label sets, aliases, ...).
    options: dict[str, Any] = field(default_factory=dict)
    hub: HubSource | None = None
    #: Where few-shot demonstrations come from (a train split), if anywhere.
    fewshot_hub: HubSource | None = None
    #: A reader name (``functions.READERS``) or a callable ``Path -> rows``; default: JSON/JSONL.
    read_local: str | Callable[[Path], list[dict]] | None = None
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
    #: A scorer name (``functions.SCORERS``) that supplies the three functions below.
    metric: str | None = None
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
    #: The YAML file the declaration came from (None when declared in Python).
    declared_in: str | None = None

    def __post_init__(self) -> None:
        from bioinstruct.benchmarks import functions

        if self.task not in ("multiple_choice", "generation"):
            raise ConfigError(
                f"benchmark {self.name!r}: task must be 'multiple_choice' or 'generation', got {self.task!r}"
            )
        if isinstance(self.groups, str):
            self.groups = (self.groups,)
        self.groups, self.judge_axes = tuple(self.groups), tuple(self.judge_axes)
        if isinstance(self.to_item, str):
            self.to_item = functools.partial(functions.lookup("to_item", self.to_item, self.name), self)
        if isinstance(self.read_local, str):
            self.read_local = functions.lookup("read_local", self.read_local, self.name)
        if self.metric is not None:
            scorer = functions.lookup("metric", self.metric, self.name)(self)
            self.corpus_metrics = self.corpus_metrics or scorer.corpus_metrics
            self.item_score = self.item_score or scorer.item_score
            self.ci = self.ci or scorer.ci
        if self.task == "generation" and self.corpus_metrics is None and self.item_score is None:
            raise ConfigError(
                f"benchmark {self.name!r}: a generation benchmark needs a metric (or corpus_metrics/item_score)"
            )

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
        from bioinstruct.benchmarks.rows import load_hub_rows

        if data_file is not None:
            return self._read_file(Path(data_file))
        if self.hub is None:
            raise DataError(
                f"benchmark {self.name!r} needs local data: "
                f"{self.how_to_get or f'pass --data-file {self.name}=PATH (data_files={{{self.name!r}: PATH}})'}"
            )
        return load_hub_rows(self.hub, self.name)

    def load_fewshot_rows(self, data_file: str | Path | None = None) -> list[dict]:
        """Rows to draw demonstrations from: a supplied file, else the Hub train split."""
        from bioinstruct.benchmarks.rows import load_hub_rows

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
        from bioinstruct.benchmarks.rows import read_json_rows

        if not path.exists():
            hint = f" {self.how_to_get}" if self.how_to_get else ""
            raise DataError(f"benchmark {self.name!r}: data file {str(path)!r} not found.{hint}")
        reader = self.read_local or read_json_rows
        try:
            rows = reader(path)
        except (OSError, UnicodeDecodeError) as err:  # a folder, a binary file, no permission
            first = str(err).splitlines()[0][:200] if str(err) else ""
            raise DataError(
                f"benchmark {self.name!r}: cannot read data file {str(path)!r} ({type(err).__name__}: "
                f"{first}); pass a JSON/JSONL file in the schema of {self.source}"
            ) from err
        if not rows:
            raise DataError(f"benchmark {self.name!r}: data file {str(path)!r} holds no rows")
        return rows

    def items(self, rows: Sequence[dict], *, source: str = "") -> list[Item]:
        """Convert rows to items, turning a missing field into a DataError that names it."""
        items = []
        for index, row in enumerate(rows):
            try:
                item = self.to_item(row, index)
                item.preamble = item.preamble or self.preamble
                items.append(item)
            except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
                where = f" in {source}" if source else ""
                raise DataError(
                    f"benchmark {self.name!r}: row {index} (counting from 0){where} does not match the expected "
                    f"schema ({type(err).__name__}: {err}); expected the fields of {self.source}{self._schema_hint()}"
                ) from err
        return items

    def _schema_hint(self) -> str:
        """`` (<the converter's first docstring line>)`` (what a row needs), or nothing."""
        function = getattr(self.to_item, "func", self.to_item)
        doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
        return f" ({doc[0].rstrip('.')})" if doc else ""
