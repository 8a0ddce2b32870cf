"""The test-item index behind :mod:`bioinstruct.decontamination.report` (read its docstring first).

Why a module of its own: loading benchmark test sets through the registry and answering "which
test item does this row overlap, and how" is the reusable core; the report, the CLI and the
builder's filter rule only count and format its answers.

How it is fast: each n-gram is reduced to Python's 64-bit ``hash``; a frozenset of every
benchmark's hashes answers "any shared n-gram?" for a row at C speed (``isdisjoint``), and only a
row with a hit looks up its items (a sorted numpy array of hashes and owners). A hit is confirmed
on the real words, so a hash collision can never flag a row. ROUGE-L asks one exact, pruned
:class:`~bioinstruct.similarity.rouge.SimilarityIndex` over all benchmarks whether any item
reaches the threshold (it stops at the first that does); only then are the per-benchmark indexes
(built on first use) asked which benchmarks and items.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bioinstruct.benchmarks import Item, select
from bioinstruct.benchmarks.registry import split_names
from bioinstruct.benchmarks.selection import nothing_loaded
from bioinstruct.errors import ConfigError
from bioinstruct.similarity.rouge import SimilarityIndex
from bioinstruct.similarity.tokenization import Tokenizer, get_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_NGRAM = 13
#: What ``bioinstruct decontaminate`` checks when no --benchmarks are given: the paper's QA test
#: sets, an explicit list (adding a benchmark to the ``qa`` group does not change it).
DEFAULT_BENCHMARKS = ("medqa", "medmcqa", "pubmedqa", "bioasq")
DEFAULT_THRESHOLD = 0.7
#: n-grams in this many distinct items of one benchmark are its boilerplate and flag nothing.
COMMON_NGRAM_ITEMS = 3
TEXT_CHARS = 200
Method = Literal["ngram", "rouge_l"]


@lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, None]:
    """ASCII punctuation (lm-eval's ``delete_chars``) plus every Unicode punctuation character."""
    table: dict[int, None] = dict.fromkeys(map(ord, string.punctuation))
    table.update((cp, None) for cp in range(0x80, 0x10000) if unicodedata.category(chr(cp))[0] == "P")
    return table


def normalize_words(text: str) -> list[str]:
    """Lower-case, delete punctuation, split on whitespace (lm-eval's decontamination normaliser)."""
    return text.lower().translate(_punctuation_table()).split()


def _grams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def _hashes(grams: Sequence[tuple[str, ...]]) -> np.ndarray:
    return np.fromiter(map(hash, grams), dtype=np.int64, count=len(grams))


def clip(text: str, limit: int = TEXT_CHARS) -> str:
    """Whitespace collapsed, at most ``limit`` characters (report fields)."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class BenchmarkItems:
    """The test items of one benchmark and where they came from (a Hub split or a file)."""

    name: str
    source: str
    items: list[Item]


def load_test_sets(
    benchmarks: str | Sequence[str],
    data_files: Mapping[str, str | Path] | None = None,
    *,
    optional: bool = False,
) -> tuple[list[BenchmarkItems], dict[str, str]]:
    """Load the test items of ``benchmarks`` (names and/or groups, as ``bioinstruct evaluate``).

    ``data_files`` replace the Hub. The rule is the evaluator's
    (:func:`bioinstruct.benchmarks.select`): a benchmark named explicitly that
    cannot load is an error; a group member without local data (or offline without a cached copy)
    is returned in ``skipped`` with the reason (every name, with ``optional``).
    """
    names = [p.strip() for p in (benchmarks.split(",") if isinstance(benchmarks, str) else benchmarks)]
    if not any(names):
        raise ConfigError("no benchmark given to decontaminate against; e.g. --benchmarks qa")
    nothing = "no test items to check against"
    loaded, skipped = select(benchmarks, data_files, optional=optional, nothing=nothing)
    if not loaded:
        raise ConfigError(nothing_loaded(nothing, split_names(benchmarks), skipped))
    chosen = {entry.benchmark.name for entry in loaded} | set(skipped)
    for name in data_files or {}:
        if name not in chosen:
            logger.warning("a data file was given for %r, which is not being checked", name)
    test_sets = [
        BenchmarkItems(
            entry.benchmark.name,
            entry.source,
            entry.benchmark.items(entry.rows, source=entry.data_file or ""),
        )
        for entry in loaded
    ]
    return test_sets, skipped


def _segments(item: Item) -> list[str]:
    """The texts of an item whose n-grams are test content (see the module docstring)."""
    parts = [item.question or "", item.input, *(item.choices or [])]
    reference = item.reference
    if isinstance(reference, str):
        parts.append(reference)
    elif isinstance(reference, list | tuple):
        parts += [part for part in reference if isinstance(part, str)]
    return [part for part in parts if part]


@dataclass(frozen=True)
class Overlap:
    """One row flagged against one benchmark: the item, how, and the evidence."""

    benchmark: str
    item_id: str
    method: Method
    #: ROUGE-L F for ``rouge_l``; for ``ngram`` the length in words of the longest run of shared n-grams.
    score: float
    item_text: str
    #: The shared words (normalised) for ``ngram``; empty for ``rouge_l``.
    match: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "item_id": self.item_id,
            "method": self.method,
            "score": self.score,
            "item_text": self.item_text,
            "match": self.match,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Overlap:
        fields = ("benchmark", "item_id", "method", "score", "item_text")
        return cls(**{key: data[key] for key in fields}, match=data.get("match", ""))

    def describe(self) -> str:
        """One line for a journal ``reason``."""
        if self.method == "ngram":
            return f"{self.benchmark} test item {self.item_id}: shares {int(self.score)} words {clip(self.match, 80)!r}"
        return f"{self.benchmark} test item {self.item_id}: ROUGE-L {self.score:.3f} with its question"


class ContaminationIndex:
    """The test items of some benchmarks, ready to check instruction rows against.

    Build it with :meth:`from_benchmarks` (loads through the registry) or from :class:`BenchmarkItems`\\ s.
    ``tokenizer``: the ROUGE-L tokenizer, ``"rouge"`` (rouge_score's, as the paper) or ``"biomedical"``.
    """

    def __init__(
        self,
        test_sets: Sequence[BenchmarkItems],
        *,
        ngram: int = DEFAULT_NGRAM,
        rouge_threshold: float = DEFAULT_THRESHOLD,
        tokenizer: str | Tokenizer = "rouge",
        common_ngram_items: int = COMMON_NGRAM_ITEMS,
        skipped: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(ngram, bool) or not isinstance(ngram, int) or ngram < 1:
            raise ConfigError(f"ngram must be a whole number >= 1, got {ngram!r}")
        if not 0.0 < rouge_threshold <= 1.0:
            raise ConfigError(f"the ROUGE-L threshold must be in (0, 1], got {rouge_threshold}")
        if common_ngram_items < 0:
            raise ConfigError(
                f"common_ngram_items must be >= 0 (0 keeps every n-gram), got {common_ngram_items}"
            )
        get_tokenizer(tokenizer)  # an unknown name fails here, not on the first row
        self.ngram, self.rouge_threshold, self.common_ngram_items = ngram, rouge_threshold, common_ngram_items
        self.tokenizer = tokenizer if isinstance(tokenizer, str) else getattr(tokenizer, "__name__", "custom")
        self.test_sets = list(test_sets)
        self.skipped = dict(skipped or {})
        self._tokenizer = tokenizer
        # One ROUGE-L index over every benchmark answers "any item >= threshold?" in one query (the
        # usual answer is no); a benchmark's own index is built the first time that answer is yes.
        self._rouge_any = SimilarityIndex(tokenizer)
        self._rouge: dict[int, SimilarityIndex] = {}
        hashes, owners = [], []
        for number, test_set in enumerate(self.test_sets):
            for position, item in enumerate(test_set.items):
                self._rouge_any.add(item.question or item.input, id=f"{number}:{position}")
            set_hashes, set_items = self._benchmark_grams(test_set)
            hashes.append(set_hashes)
            owners.append(np.stack([np.full(len(set_items), number), set_items]) if len(set_items) else None)
        hashes_all = np.concatenate(hashes) if hashes else np.empty(0, dtype=np.int64)
        order = np.argsort(hashes_all, kind="stable")
        self._hashes = hashes_all[order]
        owner_all = np.concatenate([o for o in owners if o is not None], axis=1) if len(hashes_all) else None
        self._owners = owner_all[:, order] if owner_all is not None else np.empty((2, 0), dtype=np.int64)
        self._gram_set = frozenset(self._hashes.tolist())

    @classmethod
    def from_benchmarks(
        cls,
        benchmarks: str | Sequence[str],
        *,
        data_files: Mapping[str, str | Path] | None = None,
        optional: bool = False,
        **options: Any,
    ) -> ContaminationIndex:
        """Load the test items of ``benchmarks`` (see :func:`load_test_sets`) and index them."""
        test_sets, skipped = load_test_sets(benchmarks, data_files, optional=optional)
        return cls(test_sets, skipped=skipped, **options)

    def _benchmark_grams(self, test_set: BenchmarkItems) -> tuple[np.ndarray, np.ndarray]:
        """(hash, item position) of every distinct n-gram of every distinct item, boilerplate removed."""
        seen: set[tuple[str, ...]] = set()
        hashes, items = [], []
        for position, item in enumerate(test_set.items):
            words = [normalize_words(segment) for segment in _segments(item)]
            key = tuple(word for segment in words for word in (*segment, "\x00"))
            if key in seen:  # an exact repeat counts once, so its n-grams are not boilerplate
                continue
            seen.add(key)
            grams = np.unique(np.concatenate([_hashes(_grams(w, self.ngram)) for w in words] or [[]]))
            hashes.append(grams.astype(np.int64))
            items.append(np.full(len(grams), position, dtype=np.int64))
        if not hashes:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        all_hashes, all_items = np.concatenate(hashes), np.concatenate(items)
        if self.common_ngram_items:
            _, inverse, counts = np.unique(all_hashes, return_inverse=True, return_counts=True)
            keep = counts[inverse] < self.common_ngram_items
            all_hashes, all_items = all_hashes[keep], all_items[keep]
        return all_hashes, all_items

    @property
    def benchmarks(self) -> list[str]:
        return [test_set.name for test_set in self.test_sets]

    def check(self, instruction: str, input: str = "", output: str = "") -> list[Overlap]:
        """Every benchmark this row overlaps (at most one :class:`Overlap` each, in benchmark order)."""
        found = self._ngram_overlaps(normalize_words("\n".join((instruction, input, output))))
        query = f"{instruction}\n{input}" if input else instruction
        if len(found) == len(self.test_sets) or not self._rouge_any.is_near_duplicate(
            query, self.rouge_threshold
        ):
            return [found[number] for number in sorted(found)]
        for number, test_set in enumerate(self.test_sets):
            if number in found:
                continue
            index = self._rouge.get(number)
            if index is None:
                index = self._rouge[number] = SimilarityIndex(self._tokenizer)
                for position, item in enumerate(test_set.items):
                    index.add(item.question or item.input, id=str(position))
            if index.is_near_duplicate(query, self.rouge_threshold):
                score, position = index.max_similarity(query)
                item = self.test_sets[number].items[int(position)]  # type: ignore[arg-type]
                found[number] = Overlap(
                    self.test_sets[number].name,
                    item.id,
                    "rouge_l",
                    float(score),
                    clip(item.question or item.input),
                )
        return [found[number] for number in sorted(found)]

    def _ngram_overlaps(self, words: list[str]) -> dict[int, Overlap]:
        n = self.ngram
        if len(words) < n or not len(self._hashes):
            return {}
        grams = _grams(words, n)
        query = list(map(hash, grams))
        if self._gram_set.isdisjoint(query):  # the usual case, at C speed
            return {}
        hits = np.array([value for value in query if value in self._gram_set], dtype=np.int64)
        shared: dict[int, dict[int, int]] = {}  # benchmark -> item position -> shared n-grams
        for start in np.searchsorted(self._hashes, hits).tolist():
            stop = start
            while stop < len(self._hashes) and self._hashes[stop] == self._hashes[start]:
                number, position = (int(v) for v in self._owners[:, stop])
                counts = shared.setdefault(number, {})
                counts[position] = counts.get(position, 0) + 1
                stop += 1
        found = {}
        for number, counts in shared.items():
            for position in sorted(counts, key=lambda p: (-counts[p], p)):
                overlap = self._confirm(number, position, grams, words)
                if overlap is not None:
                    found[number] = overlap
                    break
        return found

    def _confirm(
        self, number: int, position: int, grams: list[tuple[str, ...]], words: list[str]
    ) -> Overlap | None:
        """Check the hash hits on the real words; return the longest run of shared n-grams."""
        item = self.test_sets[number].items[position]
        item_grams = {
            gram for segment in _segments(item) for gram in _grams(normalize_words(segment), self.ngram)
        }
        at = [i for i, gram in enumerate(grams) if gram in item_grams]
        if not at:  # a 64-bit hash collision
            return None
        best_start, best_len, start = at[0], 1, at[0]
        for previous, current in zip(at, at[1:], strict=False):
            if current != previous + 1:
                start = current
            if current - start + 1 > best_len:
                best_start, best_len = start, current - start + 1
        span = words[best_start : best_start + best_len + self.ngram - 1]
        return Overlap(
            self.test_sets[number].name,
            item.id,
            "ngram",
            float(len(span)),
            clip(item.question or item.input),
            clip(" ".join(span)),
        )


__all__ = [
    "COMMON_NGRAM_ITEMS",
    "DEFAULT_NGRAM",
    "DEFAULT_THRESHOLD",
    "ContaminationIndex",
    "Overlap",
    "BenchmarkItems",
    "clip",
    "load_test_sets",
    "normalize_words",
]
