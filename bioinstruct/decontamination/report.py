"""Decontamination: which instruction rows overlap the test items of evaluation benchmarks.

Why: a teacher model paraphrases USMLE items readily, and the paper's seeds were drawn from the
datasets it evaluated on, so a generated row can carry a test question (verbatim or reworded) into
training, and the scores on that benchmark are then inflated. Two checks, per benchmark:

* **n-gram overlap** (GPT-3's and lm-evaluation-harness's test, 13-grams by default): a row is
  flagged when any word n-gram of its instruction + input + output also occurs in a test item.
  Words are normalised as lm-eval's ``Janitor.normalize_string`` does (lower-case, punctuation
  deleted, split on whitespace: ``"check-up"`` -> ``checkup``), except that Unicode punctuation
  (MedQA's curly quotes) is deleted too, so a copy with straight quotes still matches.
  N-grams found in ``common_ngram_items`` (default 3) or more distinct items of one benchmark are
  that benchmark's boilerplate, not its content, and flag nothing: "which of the following is the
  most likely underlying cause of this patient's" is a 13-gram of 1 MedQA item in 20, and without
  this rule every generated USMLE-style vignette would count as MedQA contamination.
* **near-duplicate ROUGE-L** (the self-instruct rule, with the dedup filter's ``>=`` threshold,
  default 0.7): the row's instruction + input against the item's question, exact ROUGE-L through
  :class:`~bioinstruct.similarity.rouge.SimilarityIndex`. This catches paraphrases that share
  no 13 consecutive words.

Which texts. An item's n-gram text is its question, its input (multiple choice: the question and
the options; PubMedQA/BioASQ: the abstract or snippets too), its choices and a string (or list of
strings) reference answer, each segment on its own so no n-gram spans two of them. The benchmark's
instruction ("Answer the following multiple-choice question...") is left out: it is the same for
every item and is not test content. The ROUGE-L text is ``Item.question`` (the question without a
template), else ``Item.input``: a rewording of the question is what a teacher produces, and a row
that also pastes the options or abstract is caught by the n-grams. A row is checked by n-gram first
and by ROUGE-L only for benchmarks the n-grams did not flag, so ``by_method`` splits
``rows_flagged`` exactly; one row can be flagged for several benchmarks.

Three ways in: :func:`decontaminate` (any list of rows; ``bioinstruct decontaminate``),
:class:`BenchmarkOverlap` (a filter rule: the builder rejects contaminated candidates, so a run
still ends with N clean rows), and :func:`run_report` (the ``decontamination`` entry of run.json).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bioinstruct.benchmarks.registry import resolve_benchmarks, split_names
from bioinstruct.decontamination.overlap_index import (
    COMMON_NGRAM_ITEMS,
    DEFAULT_NGRAM,
    DEFAULT_THRESHOLD,
    BenchmarkItems,
    ContaminationIndex,
    Overlap,
    clip,
    load_test_sets,
    normalize_words,
)
from bioinstruct.errors import ConfigError, DataError

MAX_EXAMPLES = 5
Action = Literal["flag", "drop", "reject"]


def row_text(row: Mapping[str, Any]) -> str:
    """Instruction, input and output of a row on one line, at most 200 characters (for reports)."""
    return clip(" ".join(str(row.get(key) or "") for key in ("instruction", "input", "output")))


@dataclass
class _Tally:
    source: str
    test_items: int
    rows_flagged: int = 0
    by_method: dict[str, int] = field(default_factory=lambda: {"ngram": 0, "rouge_l": 0})
    examples: list[dict[str, Any]] = field(default_factory=list)


class DecontaminationReport:
    """Per benchmark: rows flagged, by which check, and up to five examples.

    :meth:`to_dict` is the schema of run.json's ``decontamination`` entry and of ``--report``, which
    the dataset card renders: ``ngram``, ``rouge_threshold``, ``tokenizer``, ``action``,
    ``rows_checked``, ``rows_flagged``, ``benchmarks`` (name -> ``source``, ``test_items``,
    ``rows_flagged``, ``by_method`` {ngram, rouge_l}, ``examples``) and ``skipped`` (name -> reason).
    """

    def __init__(self, index: ContaminationIndex, action: Action) -> None:
        if action not in ("flag", "drop", "reject"):
            raise ConfigError(f"action must be 'flag', 'drop' or 'reject', got {action!r}")
        self.index, self.action = index, action
        self.rows_checked = 0
        self.rows_flagged = 0
        self._tallies = {s.name: _Tally(s.source, len(s.items)) for s in index.test_sets}

    def record(self, row_id: str | int, text: str, overlaps: Sequence[Overlap]) -> None:
        """Count one flagged row (counting ``rows_checked`` is the caller's job)."""
        if not overlaps:
            return
        self.rows_flagged += 1
        for overlap in overlaps:
            tally = self._tallies.setdefault(overlap.benchmark, _Tally("(not loaded in this session)", 0))
            tally.rows_flagged += 1
            tally.by_method[overlap.method] += 1
            if len(tally.examples) < MAX_EXAMPLES:
                tally.examples.append(
                    {
                        "row_id": row_id,
                        "item_id": overlap.item_id,
                        "method": overlap.method,
                        "score": round(overlap.score, 4),
                        "row_text": clip(text),
                        "item_text": overlap.item_text,
                        "match": overlap.match,
                    }
                )

    def to_dict(self) -> dict[str, Any]:
        benchmarks = {
            name: {
                "source": tally.source,
                "test_items": tally.test_items,
                "rows_flagged": tally.rows_flagged,
                "by_method": dict(tally.by_method),
                "examples": list(tally.examples),
            }
            for name, tally in self._tallies.items()
        }
        return {
            "ngram": self.index.ngram,
            "rouge_threshold": self.index.rouge_threshold,
            "tokenizer": self.index.tokenizer,
            "action": self.action,
            "rows_checked": self.rows_checked,
            "rows_flagged": self.rows_flagged,
            "benchmarks": benchmarks,
            "skipped": dict(self.index.skipped),
        }


@dataclass
class DecontaminationResult:
    """``clean``: the rows not flagged, in input order. ``flagged``: one dict per flagged row with
    ``position`` (in the input), ``row`` and ``overlaps`` (:meth:`Overlap.to_dict` each)."""

    clean: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    report: DecontaminationReport


def _field(row: Any, name: str, where: str, required: bool = False) -> str:
    if not isinstance(row, Mapping):
        raise DataError(
            f"{where}: expected an object with instruction/input/output, got {type(row).__name__}"
        )
    if row.get(name) is None:
        if required:
            raise DataError(f"{where}: missing field {name!r} (fields present: {sorted(row)})")
        return ""
    if not isinstance(row[name], str):
        raise DataError(f"{where}: field {name!r} must be a string, got {type(row[name]).__name__}")
    return row[name]


def row_fields(row: Any, where: str) -> tuple[str, str, str]:
    """``(instruction, input, output)`` of a row; a DataError naming ``where`` for a missing or non-text field."""
    return (
        _field(row, "instruction", where, required=True),
        _field(row, "input", where),
        _field(row, "output", where),
    )


def decontaminate(
    rows: Iterable[Mapping[str, Any]],
    index: ContaminationIndex,
    *,
    action: Action = "flag",
    progress: bool = False,
) -> DecontaminationResult:
    """Check every row (``instruction``, optional ``input``/``output``) against ``index``.

    ``action`` labels the report: ``"drop"`` when the caller writes ``clean`` out in place of the
    input, ``"flag"`` when it only reports. A row's id in the report is its ``id``, else its position.
    """
    from tqdm.auto import tqdm

    report = DecontaminationReport(index, action)
    clean, flagged = [], []
    bar = tqdm(rows, disable=not progress, file=sys.stderr, unit="row", desc="decontaminate")
    for position, row in enumerate(bar):
        parts = row_fields(row, f"row {position}")
        overlaps = index.check(*parts)
        report.rows_checked += 1
        if overlaps:
            report.record(row.get("id", position), " ".join(parts), overlaps)
            flagged.append({"position": position, "row": row, "overlaps": [o.to_dict() for o in overlaps]})
        else:
            clean.append(dict(row))
    return DecontaminationResult(clean, flagged, report)


class BenchmarkOverlap:
    """Filter rule for the builder: rejects a candidate that overlaps a benchmark's test items.

    The reason names the first benchmark, the item id and the method; ``last`` keeps every overlap
    of the candidate just checked, for its journal event (from which run.json is rebuilt). Pass one
    to ``BioInstructBuilder(decontamination=...)`` (it implements the builder's ``CandidateCheck``).
    """

    name = "benchmark_overlap"

    def __init__(
        self,
        index: ContaminationIndex | Callable[[], ContaminationIndex],
        benchmarks: Sequence[str] = (),
        ngram: int = DEFAULT_NGRAM,
    ) -> None:
        #: the index, or a function that loads it (called by :meth:`prepare`)
        self._index = index
        #: what the user named (groups unexpanded), recorded in run.json
        self.benchmarks = list(benchmarks)
        self.ngram = index.ngram if isinstance(index, ContaminationIndex) else ngram
        if isinstance(index, ContaminationIndex) and not self.benchmarks:
            self.benchmarks = [test_set.name for test_set in index.test_sets]
        self.last: list[Overlap] = []

    @classmethod
    def for_benchmarks(
        cls,
        benchmarks: str | Sequence[str],
        *,
        data_files: Mapping[str, str | Path] | None = None,
        ngram: int = DEFAULT_NGRAM,
        tokenizer: str = "rouge",
    ) -> BenchmarkOverlap:
        """The rule for ``benchmarks`` (names and/or groups; ``data_files`` instead of the Hub). The
        test items load in :meth:`prepare`: the builder first checks that a resumed run used the same."""
        names = split_names(benchmarks)
        if not names:
            raise ConfigError("no benchmark given to decontaminate against; e.g. medqa,pubmedqa")
        resolve_benchmarks(names)  # a typo is one line now, not after the resume checks
        if isinstance(ngram, bool) or not isinstance(ngram, int) or ngram < 1:
            raise ConfigError(f"decontamination_ngram must be a whole number >= 1, got {ngram!r}")
        files = dict(data_files or {})

        def load() -> ContaminationIndex:
            return ContaminationIndex.from_benchmarks(
                names, data_files=files, ngram=ngram, tokenizer=tokenizer
            )

        return cls(load, names, ngram)

    @property
    def index(self) -> ContaminationIndex:
        return self.prepare()

    def prepare(self) -> ContaminationIndex:
        """Load the test items (once): a bad benchmark name or file fails here, before any request."""
        if not isinstance(self._index, ContaminationIndex):
            self._index = self._index()
        return self._index

    def __call__(self, candidate: Any) -> str | None:
        self.last = self.index.check(candidate.instruction, candidate.input, candidate.output)
        return f"overlaps {self.last[0].describe()}" if self.last else None

    def report(self, state: Any) -> dict[str, Any]:
        """run.json's ``decontamination`` entry (see :func:`run_report`)."""
        return run_report(self.index, state)


def run_report(index: ContaminationIndex, state: Any) -> dict[str, Any]:
    """run.json's ``decontamination`` entry (action ``"reject"``) for a generation run.

    Rebuilt from the journal's counts (``state`` is its :class:`~bioinstruct.generation.journal.RunState`),
    so it stays right across resumes. ``rows_checked`` counts the candidates that reached the rule:
    those kept or surplus, and those rejected by it or by the pool's ROUGE-L, the only rule after it.
    Each rejected candidate's event carries its ``overlap`` list.
    """
    report = DecontaminationReport(index, "reject")
    rejected = state.rejected
    report.rows_checked = (
        state.passed_filters + state.surplus + rejected[BenchmarkOverlap.name] + rejected["similarity"]
    )
    for event in state.overlaps:
        overlaps = [Overlap.from_dict(entry) for entry in event.get("overlap") or []]
        report.record(event.get("id", ""), row_text(event), overlaps)
    return report.to_dict()


__all__ = [
    "COMMON_NGRAM_ITEMS",
    "DEFAULT_NGRAM",
    "DEFAULT_THRESHOLD",
    "BenchmarkOverlap",
    "ContaminationIndex",
    "DecontaminationReport",
    "DecontaminationResult",
    "Overlap",
    "BenchmarkItems",
    "decontaminate",
    "load_test_sets",
    "normalize_words",
    "row_fields",
    "row_text",
    "run_report",
]
