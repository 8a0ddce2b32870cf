"""The labelling step of a generation session: batches of kept tasks -> categories -> rows.

Why apart from the session loop: labelling has its own failure path (unreadable replies,
retries that name the problem, the ``OTHER`` fallback) and its own journal events
(``unlabelled``, ``accepted``); the loop only schedules it. Mixed into
:class:`bioinstruct.generation.session.GenerationSession`, whose state it uses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bioinstruct.generation.labelling import FALLBACK_LABEL, LabelOutcome, label_instructions
from bioinstruct.llm.client import Completion


class LabelSteps:
    """``_label`` (async: the teacher calls) and ``_accept`` (sync: rows and journal)."""

    builder: Any
    state: Any
    _labelling: int
    target: int
    reviewer: Any
    _reviewed: Callable[[list[dict[str, Any]]], Awaitable[None]]
    _rows_log: Any
    _progress_bar: Any

    # provided by the session: journal an event; send one teacher request
    record: Callable[..., dict[str, Any]]
    _call: Callable[..., Awaitable[Completion]]

    async def _label(self, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], LabelOutcome]:

        async def ask(messages: list[dict[str, str]], max_tokens: int, temperature: float) -> Completion:
            request_id = f"lab-{self.state.label_requests + 1:06d}"
            prompt = messages[-1]["content"]
            ids = [item["id"] for item in batch]
            self.record("request", kind="label", request_id=request_id, ids=ids, prompt=prompt)
            return await self._call(
                request_id, "label", messages, max_tokens=max_tokens, temperature=temperature
            )

        try:
            if self.reviewer is not None:
                await self._reviewed(batch)  # drops failing rows from batch (review_action drop)
                if not batch:
                    return batch, LabelOutcome(labels=[])
            outcome = await label_instructions(
                ask,
                [item["instruction"] for item in batch],
                max_attempts=self.config.label_attempts,
                template=self.config.label_template,
            )
        except BaseException:
            self._labelling -= len(batch)
            self.state.pending[:0] = batch  # back to the front of the queue, nothing lost
            raise
        return batch, outcome

    def _accept(self, batch: list[dict[str, Any]], outcome: LabelOutcome) -> None:
        self._labelling -= len(batch)
        for item, label in zip(batch, outcome.labels, strict=True):
            source = "teacher"
            if label is None:  # kept as OTHER, marked and counted: the task passed every filter
                label, source = FALLBACK_LABEL, "fallback"
                self.record(
                    "unlabelled",
                    id=item["id"],
                    request_id=item["request_id"],
                    fallback=label,
                    reason=f"no readable label after {outcome.attempts} attempts"
                    + (f"; last problem: {outcome.problems[-1]}" if outcome.problems else ""),
                )
            if len(self.state.rows) >= self.target:
                self.state.pending.append(item)
                continue
            row = {
                "id": item["id"],
                "instruction": item["instruction"],
                "input": item["input"],
                "output": item["output"],
                "category": label,
                "label_source": source,
                "seed_ids": item["seed_ids"],
                "request_id": item["request_id"],
                "teacher_model": self.config.teacher_model,
                "most_similar": item["most_similar"],
                **({"review": item.get("review")} if self.reviewer is not None else {}),
                **({"identifiers": item.get("identifiers", [])} if "identifiers" in item else {}),
            }
            self._rows_log.append(row)
            self.state.rows.append(row)
            self.record("accepted", id=row["id"], category=label)
            self._progress_bar.update(1)
