"""BatchRunner through the real openai SDK against an in-memory Files + Batch API server."""

from __future__ import annotations

import asyncio
import json

import pytest

from bioinstruct.errors import ConfigError, DataError
from bioinstruct.llm.batch import BatchRunner
from bioinstruct.llm.client import (
    BudgetExceededError,
    Completion,
    TeacherClient,
    TeacherError,
    TeacherRequestError,
    TeacherUnavailableError,
)
from bioinstruct.testing.batch_server import FakeBatchBackend
from bioinstruct.testing.openai_server import Reply


def _responder(request: dict) -> Reply:
    text = request["messages"][-1]["content"]
    if text == "break":
        return Reply("internal error", status=500)
    return Reply(f"1. Instruction: answer {text}", prompt_tokens=1000, completion_tokens=2000)


def _requests(n: int, extra: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    prompts = [f"q{i}" for i in range(n)] + list(extra)
    return [(f"req-{p}", {"messages": [{"role": "user", "content": p}], "max_tokens": 2048}) for p in prompts]


def _runner(server, **kwargs) -> BatchRunner:
    return BatchRunner("gpt-4", base_url=server.base_url, api_key="local", backoff_base=0.01, **kwargs)


def test_write_requests_format_and_validation(tmp_path, openai_server):
    runner = _runner(openai_server(_responder), max_cost_usd=100.0)
    path = tmp_path / "batch" / "input.jsonl"
    worst = runner.write_requests(path, _requests(2))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {
        "custom_id": "req-q0",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4", "messages": [{"role": "user", "content": "q0"}], "max_tokens": 2048},
    }
    assert worst == pytest.approx(2 * runner.teacher.estimate_cost(lines[0]["body"]["messages"], 2048) / 2)
    with pytest.raises(DataError, match="not unique"):
        runner.write_requests(path, _requests(1) * 2)
    with pytest.raises(ConfigError, match="no max_tokens"):
        runner.write_requests(path, [("a", {"messages": [{"role": "user", "content": "x"}]})])


def test_submit_poll_results_at_half_price(tmp_path, openai_server):
    server = openai_server(_responder)
    backend = FakeBatchBackend(server, polls_to_complete=2)
    runner = _runner(server, max_cost_usd=100.0)
    path = tmp_path / "input.jsonl"
    runner.write_requests(path, _requests(3, extra=("break",)))

    async def scenario():
        batch_id = await runner.submit(path)
        first = await runner.poll(batch_id)
        final = await runner.wait(batch_id, interval=0.01)
        ids = [custom_id for custom_id, _ in _requests(3, extra=("break",))] + ["req-lost"]
        return batch_id, first, final, await runner.results(batch_id, expected_ids=ids)

    batch_id, first, final, results = asyncio.run(scenario())
    batch = backend.batches[batch_id]
    assert (batch["endpoint"], batch["completion_window"]) == ("/v1/chat/completions", "24h")
    assert backend.files[batch["input_file_id"]]["purpose"] == "batch"
    assert (first, final) == ("in_progress", "completed")
    assert [custom_id for custom_id, _ in results] == ["req-q0", "req-q1", "req-q2", "req-break", "req-lost"]
    done = [item for _, item in results if isinstance(item, Completion)]
    assert len(done) == 3 and done[0].text == "1. Instruction: answer q0" and done[0].request_id == "req-q0"
    assert done[0].cost_usd == pytest.approx(0.5 * (1000 * 30 + 2000 * 60) / 1e6)
    assert isinstance(results[3][1], TeacherUnavailableError) and "500" in str(results[3][1])
    assert isinstance(results[4][1], TeacherUnavailableError) and "no result" in str(results[4][1])
    stats = runner.teacher.stats
    assert (stats.requests, stats.succeeded, stats.failed) == (5, 3, 2)
    assert stats.cost_usd == pytest.approx(3 * 0.075) and runner.teacher._reserved == 0
    again = asyncio.run(runner.results(batch_id))  # ingested once: no double counting
    assert again == results and runner.teacher.stats.succeeded == 3


def test_polling_resumes_from_the_batch_id_after_a_restart(tmp_path, openai_server):
    server = openai_server(_responder)
    FakeBatchBackend(server, polls_to_complete=3)
    path = tmp_path / "input.jsonl"
    first = _runner(server)
    first.write_requests(path, _requests(2))
    batch_id = asyncio.run(first.submit(path))
    assert asyncio.run(first.poll(batch_id)) == "in_progress"
    del first  # the process "dies"; only the batch id survives, in the journal
    fresh = BatchRunner(TeacherClient("gpt-4", base_url=server.base_url, api_key="local"))
    assert asyncio.run(fresh.wait(batch_id, interval=0.01)) == "completed"
    results = asyncio.run(fresh.results(batch_id))
    assert [custom_id for custom_id, _ in results] == ["req-q0", "req-q1"]
    assert all(isinstance(item, Completion) for _, item in results)


def test_expired_batch_returns_unfinished_lines_as_errors(tmp_path, openai_server):
    server = openai_server(_responder)
    FakeBatchBackend(server, polls_to_complete=1, expire_after=1)
    runner = _runner(server)
    path = tmp_path / "input.jsonl"
    runner.write_requests(path, _requests(3))

    async def scenario():
        batch_id = await runner.submit(path)
        return await runner.wait(batch_id, interval=0.01), await runner.results(batch_id)

    status, results = asyncio.run(scenario())
    assert status == "expired" and len(results) == 3
    assert isinstance(results[0][1], Completion)
    assert all(
        isinstance(item, TeacherUnavailableError) and "batch_expired" in str(item) for _, item in results[1:]
    )


def test_failed_validation_and_unfinished_batches_raise(tmp_path, openai_server):
    server = openai_server(_responder)
    FakeBatchBackend(server, polls_to_complete=2, fail_validation=True)
    runner = _runner(server, max_cost_usd=100.0)
    path = tmp_path / "input.jsonl"
    runner.write_requests(path, _requests(1))

    async def scenario():
        batch_id = await runner.submit(path)
        with pytest.raises(TeacherError, match="still (validating|in_progress)"):
            await runner.results(batch_id)
        assert await runner.wait(batch_id, interval=0.01) == "failed"
        with pytest.raises(TeacherRequestError, match="failed validation"):
            await runner.results(batch_id)

    asyncio.run(scenario())
    assert runner.teacher._reserved == 0


def test_submit_refuses_a_batch_over_budget_before_uploading(tmp_path, openai_server):
    server = openai_server(_responder)
    backend = FakeBatchBackend(server)
    runner = _runner(server, max_cost_usd=0.01)
    path = tmp_path / "input.jsonl"
    runner.write_requests(path, _requests(5))
    with pytest.raises(BudgetExceededError):
        asyncio.run(runner.submit(path))
    assert backend.files == {} and backend.batches == {}
