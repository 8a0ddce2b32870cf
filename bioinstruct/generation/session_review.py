"""The answer-review step of a generation session: kept tasks -> reviewer -> scores, before labels.

Why before labelling: a row the reviewer drops costs no label request. Every review is journaled
(``reviewed``, with the scores) before the row relies on it, so a resumed run never pays for the
same review twice; a dropped row is journaled as ``dropped`` with the rule ``answer_review`` and
counted with the filters' rejections. Mixed into
:class:`bioinstruct.generation.session.GenerationSession`, whose state it uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bioinstruct.generation.review import GATE, review_task
from bioinstruct.llm.client import Completion


class ReviewSteps:
    """``_reviewed``: review the tasks of a label batch that have no review yet."""

    config: Any
    state: Any
    reviewer: Any
    _labelling: int
    record: Callable[..., dict[str, Any]]
    _call: Callable[..., Awaitable[Completion]]

    async def _review_one(self, item: dict[str, Any]) -> Any:
        async def ask(messages: list[dict[str, str]], max_tokens: int, temperature: float) -> Completion:
            request_id = f"rev-{self.state.review_requests + 1:06d}"
            self.record("request", kind="review", request_id=request_id, ids=[item["id"]],
                        prompt=messages[-1]["content"])  # fmt: skip
            return await self._call(
                request_id,
                "review",
                messages,
                client=self.reviewer,
                max_tokens=max_tokens,
                temperature=temperature,
            )

        return await review_task(
            ask,
            item,
            threshold=self.config.review_threshold,
            reviewer=self.reviewer.model,
            template=self.config.review_template,
        )

    async def _reviewed(self, batch: list[dict[str, Any]]) -> None:
        """Review (concurrently) the items of ``batch`` without a review; drop those that fail when
        ``review_action`` is drop. ``batch`` is changed in place, so a failure part-way (the budget,
        an endpoint that stops answering) leaves it holding exactly the items still to label."""
        todo = [item for item in batch if "review" not in item]
        results = await asyncio.gather(*(self._review_one(item) for item in todo), return_exceptions=True)
        error: BaseException | None = None
        dropped: set[str] = set()
        for item, result in zip(todo, results, strict=True):
            if isinstance(result, BaseException):
                error = error or result
                continue
            review = result.to_dict()
            self.record("reviewed", id=item["id"], request_id=item["request_id"], review=review,
                        attempts=result.attempts, problem=result.problem)  # fmt: skip
            if not result.passed and self.config.review_action == "drop":
                self.record("dropped", id=item["id"], request_id=item["request_id"], filter=GATE,
                            reason=result.reason(self.config.review_threshold))  # fmt: skip
                dropped.add(item["id"])
            else:
                item["review"] = review
        if dropped:
            batch[:] = [item for item in batch if item["id"] not in dropped]
            self._labelling -= len(dropped)
        if error is not None:
            raise error
