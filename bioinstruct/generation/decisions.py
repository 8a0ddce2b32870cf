"""The decision on each candidate of a reply: kept, rejected by a named filter (and why), or surplus.

Why its own object: the filter chain has state that lives as long as a session (the ROUGE-L
pool of every kept instruction, the seeds, the optional benchmark-overlap rule), and the session
should only journal what it is told. A kept candidate is reserved in the pool in the same
synchronous step that decides it, so two concurrent replies can never both keep a near-duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from bioinstruct.generation.filters import (
    Blacklist,
    CandidateCheck,
    CopiedSeedOutput,
    first_rejection,
    reply_rules,
)
from bioinstruct.generation.parsing import Candidate
from bioinstruct.jsonio import paused_gc
from bioinstruct.similarity.rouge import SimilarityIndex


@dataclass
class Decision:
    """``rejected`` names the filter (with ``reason``), else the candidate passed every filter."""

    rejected: str | None
    reason: str = ""
    #: journal fields: ``most_similar`` (id and ROUGE-L of the nearest pool instruction), ``overlap``,
    #: ``identifiers`` (patient identifiers the screen found)
    details: dict[str, Any] = field(default_factory=dict)
    #: the candidate as decided: with identifiers replaced by ``[KIND]`` when the screen redacts
    candidate: Candidate | None = None


class CandidateDecisions:
    """The paper's filters over one run's pool: seeds and kept rows, then each candidate kept."""

    def __init__(
        self,
        threshold: float,
        tokenizer: Any,
        seed_tasks: Iterable[dict],
        pool: Iterable[dict],
        overlap: CandidateCheck | None = None,
        identifiers: Any = None,
    ) -> None:
        seeds = list(seed_tasks)
        self.threshold, self.overlap = threshold, overlap
        #: the patient-identifier screen (an ``IdentifierScreen``), or None
        self.identifiers = identifiers
        self.index = SimilarityIndex(tokenizer=tokenizer)
        with paused_gc():  # a resumed 100k-row run: the pool is refilled in bulk
            self.index.add_many((item["instruction"], item["id"]) for item in [*seeds, *pool])
        extra = [CopiedSeedOutput(seeds), *([overlap] if overlap else [])]
        self._blacklist, self._extra = Blacklist(), extra

    def for_reply(self) -> _ReplyDecisions:
        """The rule chain for the candidates of one reply (its in-reply duplicate check starts empty)."""
        return _ReplyDecisions(
            self, *reply_rules(self.index, self.threshold, self._blacklist, extra=self._extra)
        )

    def reserve(self, instruction: str, candidate_id: str) -> None:
        """Add a kept candidate to the pool: later candidates are compared with it."""
        self.index.add(instruction, id=candidate_id)


class _ReplyDecisions:
    def __init__(self, owner: CandidateDecisions, rules: list, similarity: Any) -> None:
        self._owner, self._rules, self._similarity = owner, rules, similarity

    def decide(self, candidate: Candidate) -> Decision:
        found, screen = [], self._owner.identifiers
        if screen is not None:  # first: a redacted candidate is what the other rules and the pool see
            found = screen.screen({k: getattr(candidate, k) for k in ("instruction", "input", "output")})
            if found and screen.action == "drop":
                return Decision(
                    screen.name, screen.reason(found), {"identifiers": [f.to_dict() for f in found]}
                )
            if found and screen.action == "redact":
                fields = {k: getattr(candidate, k) for k in ("instruction", "input", "output")}
                candidate = replace(candidate, **screen.redact(fields, found))
        # redacted: each identifier's kind and the place of its [KIND] in the stored text, not its text
        listed = [
            f.to_dict()
            for f in (screen.redacted_spans(found) if screen and screen.action == "redact" else found)
        ]
        self._similarity.last = (0.0, None)
        rejection = first_rejection(candidate, self._rules)
        score, match_id = self._similarity.last
        most_similar = {"most_similar": {"id": match_id, "score": round(score, 4)}}
        if rejection is None:
            return Decision(None, details={**most_similar, **({"identifiers": listed} if screen else {})},
                            candidate=candidate)  # fmt: skip
        overlap = self._owner.overlap
        if overlap is not None and rejection.filter == overlap.name:
            return Decision(
                rejection.filter, rejection.reason, {"overlap": [o.to_dict() for o in overlap.last]}
            )
        details = most_similar if rejection.filter == "similarity" else {}
        return Decision(rejection.filter, rejection.reason, details)


__all__ = ["CandidateDecisions", "Decision"]
