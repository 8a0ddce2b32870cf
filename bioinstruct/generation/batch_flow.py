"""Batch API mode of the builder: generation requests go out as OpenAI batches (half price, 24 h).

Why it is resumable: the batch id and the request ids (with their seeds) are journaled in one
``batch_submitted`` event the moment the server accepts the batch. A restarted run finds every
batch without a ``batch_ingested`` event and resumes polling it; results go through the same
parser and filters as synchronous replies, and request ids that already have a journaled reply
are skipped, so a kill during ingestion neither loses nor duplicates a candidate. Labelling, a
few short requests, uses the synchronous API so rows are written as soon as a batch is in.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from bioinstruct.llm.batch import MAX_REQUESTS, BatchRunner
from bioinstruct.llm.client import BudgetExceededError, TeacherAuthError, TeacherError

if TYPE_CHECKING:
    from bioinstruct.generation.session import GenerationSession

logger = logging.getLogger(__name__)


async def _ingest_batch(session: GenerationSession, runner: BatchRunner, submitted: dict[str, Any]) -> None:
    state = session.state
    batch_id = submitted["batch_id"]
    requests = submitted["requests"]
    status = await runner.wait(batch_id, interval=session.config.batch_poll_interval)
    session.record("batch_status", batch_id=batch_id, status=status)
    try:
        results = await runner.results(batch_id, expected_ids=[item["request_id"] for item in requests])
    except TeacherError as err:
        session.record("batch_ingested", batch_id=batch_id, status=status, error=str(err))
        raise
    seeds_of = {item["request_id"]: item["seed_ids"] for item in requests}
    auth_error: TeacherAuthError | None = None
    for request_id, outcome in results:
        if request_id in state.answered:
            continue  # journaled before a restart
        if isinstance(outcome, TeacherError):
            session.record(
                "error",
                kind="generate",
                request_id=request_id,
                error=type(outcome).__name__,
                message=str(outcome),
            )
            auth_error = outcome if isinstance(outcome, TeacherAuthError) else auth_error
            continue
        session.ingest(request_id, seeds_of[request_id], outcome, journal_reply=True)
    session.record("batch_ingested", batch_id=batch_id, status=status)
    if auth_error is not None:
        raise auth_error


def _batch_size(session: GenerationSession) -> int:
    missing = session.target - session.covered()
    prior = max(1.0, (session.config.tasks_per_prompt - session.config.num_prompt_seeds) / 2)
    expected = session.state.expected_yield(prior)
    return min(MAX_REQUESTS, max(1, math.ceil(1.25 * missing / max(expected, 0.5))))


async def _submit(session: GenerationSession, runner: BatchRunner, size: int) -> dict[str, Any] | None:
    """Write and submit ``size`` generation requests (fewer if the budget allows fewer); journal the batch."""
    builder, state = session.builder, session.state
    while size >= 1:
        first = state.generation_requests + 1
        requests, meta = [], []
        for sequence in range(first, first + size):
            request_id = f"gen-{sequence:06d}"
            seeds = builder.sample_seeds(sequence)
            body: dict[str, Any] = {
                "messages": builder.generation_messages(seeds),
                "max_tokens": session.config.max_tokens,
                "temperature": session.config.temperature,
                "top_p": session.config.top_p,
            }
            if session.config.frequency_penalty:
                body["frequency_penalty"] = session.config.frequency_penalty
            if session.config.request_seeds:
                body["seed"] = builder.request_seed(request_id)
            if session.config.json_mode:
                body["response_format"] = {"type": "json_object"}
            requests.append((request_id, body))
            meta.append({"request_id": request_id, "seed_ids": [seed["id"] for seed in seeds]})
        path = builder.output_dir / "batches" / f"gen-{first:06d}.jsonl"
        runner.write_requests(path, requests)
        try:
            batch_id = await runner.submit(path)
        except BudgetExceededError as err:
            path.unlink(missing_ok=True)
            if size == 1:
                session.record("budget_stop", kind="batch", message=str(err))
                session.stop_reason = "budget"
                return None
            size //= 2
            continue
        file = str(path.relative_to(builder.output_dir))
        return session.record("batch_submitted", batch_id=batch_id, file=file, requests=meta)
    return None


async def run_batches(session: GenerationSession) -> None:
    """Finish open batches, then submit, poll and ingest new ones until the target is covered."""
    state, target = session.state, session.target
    runner = BatchRunner(session.teacher)
    for submitted in list(state.open_batches.values()):
        logger.info("resuming batch %s", submitted["batch_id"])
        await _ingest_batch(session, runner, submitted)
    await session.loop(generate=False)
    while len(state.rows) < target and session.stop_reason is None:
        if session.covered() < target:
            submitted = await _submit(session, runner, _batch_size(session))
            if submitted is None:
                break
            logger.info("submitted batch %s (%d requests)", submitted["batch_id"], len(submitted["requests"]))
            await _ingest_batch(session, runner, submitted)
        await session.loop(generate=False)
    await session.loop(generate=False)
