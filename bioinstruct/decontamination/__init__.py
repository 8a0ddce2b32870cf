"""Decontamination: which instruction rows overlap benchmark test items (13-grams, ROUGE-L).

A stage of its own: ``bioinstruct decontaminate`` checks any dataset (:func:`decontaminate`), and
:class:`BenchmarkOverlap` is the rule a generation run is given (``BioInstructBuilder(
decontamination=BenchmarkOverlap.for_benchmarks("medqa,pubmedqa"))``) so it ends with N clean rows.
The test items come from :mod:`bioinstruct.benchmarks`, the layer below.
"""

from __future__ import annotations

from bioinstruct.decontamination.overlap_index import (
    DEFAULT_BENCHMARKS,
    DEFAULT_NGRAM,
    DEFAULT_THRESHOLD,
    BenchmarkItems,
    ContaminationIndex,
    Overlap,
    load_test_sets,
)
from bioinstruct.decontamination.report import (
    BenchmarkOverlap,
    DecontaminationReport,
    DecontaminationResult,
    decontaminate,
)

__all__ = [
    "DEFAULT_BENCHMARKS",
    "DEFAULT_NGRAM",
    "DEFAULT_THRESHOLD",
    "BenchmarkItems",
    "BenchmarkOverlap",
    "ContaminationIndex",
    "DecontaminationReport",
    "DecontaminationResult",
    "Overlap",
    "decontaminate",
    "load_test_sets",
]
