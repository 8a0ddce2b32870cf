"""The paper's candidate filters, each a small named rule that returns why it rejects (or None).

Why named rules: every rejection is journaled with the rule's ``name`` and a human ``reason``,
and run.json counts rejections by name, so a user can see which filter threw away what. Rules
that need no state are plain functions; the two that need context (duplicates within one reply,
ROUGE-L against the pool) are small classes with the same ``name`` / ``__call__`` shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

from bioinstruct.generation.parsing import Candidate

MIN_INSTRUCTION_WORDS = 3
MAX_INSTRUCTION_WORDS = 150


@dataclass(frozen=True)
class Rejection:
    """Which filter rejected a candidate and why."""

    filter: str
    reason: str


class CandidateCheck(Protocol):
    """A rule handed to the builder from outside generation: the benchmark-overlap check.

    Why a protocol: decontamination is its own stage, and a stage never imports another, so the
    caller (``bioinstruct generate --decontaminate``, the quickstart) builds
    ``bioinstruct.decontamination.BenchmarkOverlap`` and passes it in; the session only calls it.
    """

    name: str
    #: the benchmarks/groups checked against and the n-gram length (recorded in run.json; a resume
    #: must use the same)
    benchmarks: Sequence[str]
    ngram: int
    #: details of the candidate just checked (each with ``to_dict()``), journaled with a rejection
    last: list[Any]

    def prepare(self) -> Any:
        """Load what the check needs (test items); called after the resume checks, before any request."""
        ...

    def __call__(self, candidate: Candidate) -> str | None: ...

    def report(self, state: Any) -> dict[str, Any]:
        """run.json's ``decontamination`` entry, rebuilt from the journal's ``state``."""
        ...


@lru_cache(maxsize=1)
def load_blacklist() -> tuple[str, ...]:
    """The bundled blacklist (``bioinstruct/generation/blacklist.txt``), lower-cased."""
    text = resources.files("bioinstruct").joinpath("generation", "blacklist.txt").read_text(encoding="utf-8")
    return tuple(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def instruction_length(candidate: Candidate) -> str | None:
    """Instructions under 3 words are fragments; over 150 words they are passages, not instructions."""
    words = len(candidate.instruction.split())
    if words < MIN_INSTRUCTION_WORDS:
        return f"instruction has {words} words (< {MIN_INSTRUCTION_WORDS})"
    if words > MAX_INSTRUCTION_WORDS:
        return f"instruction has {words} words (> {MAX_INSTRUCTION_WORDS})"
    return None


class Blacklist:
    """Rejects instructions that ask for images, files, audio or actions a text model cannot take."""

    name = "blacklist"

    def __init__(self, words: Iterable[str] | None = None) -> None:
        self.words = tuple(words) if words is not None else load_blacklist()
        alternatives = "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in self.words)
        self._pattern = re.compile(rf"\b({alternatives})\b", re.IGNORECASE) if self.words else None

    def __call__(self, candidate: Candidate) -> str | None:
        match = self._pattern.search(candidate.instruction) if self._pattern else None
        if match is None:
            return None
        return f"instruction contains blacklisted word {' '.join(match.group(1).lower().split())!r}"


def empty_output(candidate: Candidate) -> str | None:
    """A task without an answer teaches nothing."""
    return "output is empty" if not candidate.output.strip() else None


def output_equals_input(candidate: Candidate) -> str | None:
    """An output that repeats the input teaches copying, not the task."""
    if candidate.input.strip() and _normalize(candidate.output) == _normalize(candidate.input):
        return "output is identical to input"
    return None


def markup_only_output(candidate: Candidate) -> str | None:
    """An output of only markdown (``##``, ``# ###``, ``---``) is a formatting remnant, not an answer.

    Seen from SmolLM2-135M behind ``transformers serve``: it closes a task with ``##``."""
    output = candidate.output.strip()
    if output and not re.search(r"[^\W_]", output):
        return f"output is only markup ({output[:20]!r})"
    return None


def output_equals_instruction(candidate: Candidate) -> str | None:
    """An output that repeats the instruction answers nothing (small teachers echo the prompt)."""
    if _normalize(candidate.output).rstrip(".?:!") == _normalize(candidate.instruction).rstrip(".?:!"):
        return "output is identical to the instruction"
    return None


class CopiedSeedOutput:
    """Rejects a candidate whose output is (nearly) verbatim the output of a seed task.

    Why: a small teacher pairs a new instruction with the input and output of an example in its
    prompt; the instruction passes the ROUGE-L rule, but the output answers the seed's task, not
    this one. ``fuzz.ratio`` >= ``min_ratio`` (0-100) on whitespace- and case-normalised text.
    """

    name = "copied_seed_output"

    def __init__(self, seeds: Iterable[dict[str, Any]], min_ratio: float = 90.0) -> None:
        self.min_ratio = min_ratio
        self._outputs = {
            _normalize(str(seed.get("output") or "")): str(seed.get("id", "?")) for seed in seeds
        }
        self._outputs.pop("", None)
        self._choices = list(self._outputs)

    def __call__(self, candidate: Candidate) -> str | None:
        from rapidfuzz import fuzz, process

        output = _normalize(candidate.output)
        if not output or not self._choices:
            return None
        best = process.extractOne(output, self._choices, scorer=fuzz.ratio, score_cutoff=self.min_ratio)
        if best is None:
            return None
        return f"output copies the output of {self._outputs[best[0]]} (similarity {best[1]:.0f}%)"


class DuplicateInReply:
    """Rejects an instruction already seen in the same reply (teachers repeat themselves when they run dry).

    Create one per reply.
    """

    name = "duplicate_in_reply"

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, candidate: Candidate) -> str | None:
        key = _normalize(candidate.instruction)
        if key in self._seen:
            return f"same instruction as item {self._seen[key]} of this reply"
        self._seen[key] = candidate.index
        return None


class Similarity:
    """ROUGE-L against the seeds and every accepted or pending instruction (the paper's 0.7 rule).

    ``index`` is a :class:`bioinstruct.similarity.rouge.SimilarityIndex`. The check does not
    add to the index: the builder reserves an instruction only once every rule has passed, and
    does it in the same synchronous step, so two concurrent replies cannot both accept the same
    near-duplicate. ``last`` keeps the most similar (score, id) for the row's provenance.
    """

    name = "similarity"

    def __init__(self, index: Any, threshold: float = 0.7) -> None:
        self.index = index
        self.threshold = threshold
        self.last: tuple[float, str | None] = (0.0, None)

    def __call__(self, candidate: Candidate) -> str | None:
        score, match_id = self.index.max_similarity(candidate.instruction)
        self.last = (float(score), match_id)
        if score >= self.threshold:
            return f"ROUGE-L {score:.3f} >= {self.threshold} with {match_id}"
        return None


Rule = Callable[[Candidate], "str | None"]

#: The stateless rules, cheapest first, in the order they are applied.
STATIC_RULES: tuple[tuple[str, Rule], ...] = (
    ("empty_output", empty_output),
    ("markup_only_output", markup_only_output),
    ("instruction_length", instruction_length),
    ("output_equals_input", output_equals_input),
    ("output_equals_instruction", output_equals_instruction),
)


def rule_name(rule: Rule) -> str:
    return getattr(rule, "name", None) or rule.__name__  # type: ignore[attr-defined]


def first_rejection(candidate: Candidate, rules: Iterable[Rule]) -> Rejection | None:
    """Apply ``rules`` in order; the first one that objects decides."""
    for rule in rules:
        reason = rule(candidate)
        if reason is not None:
            return Rejection(rule_name(rule), reason)
    return None


def reply_rules(
    index: Any, threshold: float, blacklist: Blacklist | None = None, extra: Iterable[Rule] = ()
) -> tuple[list[Rule], Similarity]:
    """The full rule chain for one reply: static rules, blacklist, in-reply duplicates, ``extra``
    (e.g. ``benchmark_overlap``), then ROUGE-L against the pool.

    ROUGE-L against the pool runs last because it is the most expensive rule and the only one whose
    pass reserves the instruction. Returns the chain and its :class:`Similarity` rule (whose ``last``
    holds the provenance of the candidate just checked).
    """
    similarity = Similarity(index, threshold)
    rules: list[Rule] = [rule for _, rule in STATIC_RULES]
    rules += [blacklist or Blacklist(), DuplicateInReply(), *extra, similarity]
    return rules, similarity
