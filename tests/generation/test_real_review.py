"""Answer review against a REAL reviewer: ``transformers serve`` hosting SmolLM2-135M-Instruct.

What a real small reviewer does that a fake does not: it may wrap the object in prose or fences,
leave a key out, or score outside 1..5. Each of those must end as a readable review or a counted
review failure after exactly one repair, never as a crash or an unreviewed row.
"""

from __future__ import annotations

import asyncio

import pytest

from bioinstruct.generation.review import CRITERIA, review_task
from bioinstruct.llm.client import TeacherClient

pytestmark = pytest.mark.slow

TASKS = [
    {"instruction": "What is the usual adult starting dose of metformin for type 2 diabetes?", "input": "",
     "output": "500 mg once or twice daily with meals, increased gradually."},
    {"instruction": "Give the maximum daily dose of paracetamol for a healthy adult.", "input": "",
     "output": "There is no maximum; take as much as needed."},
]  # fmt: skip


def test_small_real_reviewer_gives_scores_or_a_counted_failure(transformers_server) -> None:
    async def run() -> list:
        client = TeacherClient(
            transformers_server.model_id, base_url=transformers_server.base_url, api_key="local",
            max_concurrency=1, timeout=600.0, max_retries=1,
        )  # fmt: skip
        requests = []

        async def ask(messages, max_tokens, temperature):
            requests.append(messages[-1]["content"])
            return await client.complete(
                messages, max_tokens=120, temperature=temperature, request_id=f"r{len(requests)}"
            )

        try:
            return [
                await review_task(ask, task, threshold=3, reviewer=client.model) for task in TASKS
            ], requests
        finally:
            await client.aclose()

    reviews, requests = asyncio.run(run())
    assert len(requests) == sum(review.attempts for review in reviews) <= 2 * len(TASKS)
    for review in reviews:
        print(review.attempts, review.problem, review.scores)
        if review.scores is None:  # a counted failure: the row would be dropped with this reason
            assert review.attempts == 2 and review.problem and not review.passed
            assert "no readable review after 2 replies" in review.reason(3)
        else:
            assert (
                all(1 <= getattr(review.scores, name) <= 5 for name in CRITERIA) and review.scores.rationale
            )
            assert review.passed == (min(getattr(review.scores, n) for n in CRITERIA) >= 3)
