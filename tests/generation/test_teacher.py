"""TeacherClient against a real local OpenAI-protocol server with injected faults."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bioinstruct.errors import ConfigError
from bioinstruct.llm.client import (
    BudgetExceededError,
    Completion,
    TeacherAuthError,
    TeacherClient,
    TeacherRequestError,
    TeacherUnavailableError,
    load_price_table,
    parse_retry_after,
    prompt_token_bound,
    resolve_price,
)
from bioinstruct.testing.openai_server import Reply, chat_completion_body

SECRET = "sk-test-SECRETabcdef0123456789"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


def _msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _client(server, model: str = "gpt-4", **kwargs) -> TeacherClient:
    return TeacherClient(
        model, base_url=server.base_url, api_key=kwargs.pop("api_key", "local"), **FAST, **kwargs
    )


async def _gather(client: TeacherClient, prompts: list[str], **kwargs) -> list:
    try:
        tasks = [client.complete(_msg(p), request_id=p, **kwargs) for p in prompts]
        return await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await client.aclose()


class Script:
    """Thread-safe responder: each prompt's n-th attempt gets the n-th scripted reply."""

    def __init__(self, plan: dict[str, list[Reply]], default: Reply | None = None) -> None:
        self.plan, self.default = plan, default or Reply("1. Instruction: name a gene")
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request: dict) -> Reply:
        key = request["messages"][-1]["content"]
        with self.lock:
            attempt = self.seen[key]
            self.seen[key] += 1
        replies = self.plan.get(key, [])
        return replies[attempt] if attempt < len(replies) else self.default


def _refusal(request: dict) -> Reply:
    body = chat_completion_body(request, Reply(None))
    body["choices"][0]["message"]["refusal"] = "I can't help with that."
    return Reply(body=body)


def test_completion_fields_cost_and_request_id(openai_server):
    server = openai_server(lambda request: Reply("hello world", prompt_tokens=1000, completion_tokens=500))
    client = _client(server)
    [result] = asyncio.run(_gather(client, ["ask"]))
    assert isinstance(result, Completion)
    assert (result.text, result.finish_reason, result.request_id, result.attempts) == (
        "hello world",
        "stop",
        "ask",
        1,
    )
    assert result.response_id.startswith("chatcmpl-") and result.model == "gpt-4"
    assert result.cost_usd == pytest.approx((1000 * 30 + 500 * 60) / 1e6)  # gpt-4: $30 / $60 per 1M
    assert server.requests[0]["max_tokens"] == 3072 and server.requests[0]["temperature"] == 1.0
    stats = client.stats.to_dict()
    assert stats["requests"] == stats["succeeded"] == 1 and stats["cost_usd"] == pytest.approx(0.06)
    assert stats["finish_reasons"] == {"stop": 1}


def test_fault_mix_ends_in_right_counts_with_nothing_lost(openai_server):
    prompts = [f"req-{i}" for i in range(20)]
    plan = {}
    for i, prompt in enumerate(prompts):
        if i % 5 == 1:
            plan[prompt] = [Reply("slow down", status=429, headers={"retry-after-ms": "30"})]
        elif i % 5 == 2:
            plan[prompt] = [Reply("boom", status=500), Reply("bad gateway", status=502)]
        elif i % 5 == 3:
            plan[prompt] = [Reply("too late", delay=1.0)]
    script = Script(plan)

    def responder(request: dict) -> Reply:
        if request["messages"][-1]["content"] in {f"req-{i}" for i in range(4, 20, 5)}:
            return _refusal(request)
        return script(request)

    server = openai_server(responder)
    client = _client(server, timeout=0.3, max_concurrency=4)
    results = asyncio.run(_gather(client, prompts))
    assert all(isinstance(r, Completion) for r in results), results
    assert [r.request_id for r in results] == prompts
    assert client.stats.retries == {"rate_limit": 4, "server_error": 8, "timeout": 4, "connection": 0}
    assert (client.stats.requests, client.stats.succeeded, client.stats.failed) == (20, 20, 0)
    assert len(server.requests) == 20 + 16
    assert [r.attempts for r in results[:5]] == [1, 2, 3, 2, 1]
    refusals = [r for r in results if r.refusal]
    assert len(refusals) == 4 and all(r.text == "" for r in refusals)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_errors_stop_at_once_without_leaking_the_key(openai_server, status):
    server = openai_server(lambda request: Reply(f"Incorrect API key provided: {SECRET}", status=status))
    client = _client(server, api_key=SECRET, max_concurrency=2)
    results = asyncio.run(_gather(client, [f"p{i}" for i in range(10)]))
    assert all(isinstance(r, TeacherAuthError) for r in results)
    assert len(server.requests) <= 2  # the in-flight ones; the rest stop unsent
    assert (
        f"HTTP {status}" in str(results[0])
        and SECRET not in str(results[0])
        and "sk-test" not in str(results[0])
    )
    assert sum(client.stats.retries.values()) == 0
    assert client.stats.failed == client.stats.requests


def test_insufficient_quota_is_fatal_and_bad_request_is_not_retried(openai_server):
    quota = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}}
    quota["error"]["code"] = "insufficient_quota"
    server = openai_server(lambda request: Reply(status=429, body=quota))
    [result] = asyncio.run(_gather(_client(server), ["q"]))
    assert isinstance(result, TeacherAuthError) and "insufficient_quota" in str(result)
    assert len(server.requests) == 1
    server = openai_server(lambda request: Reply("context length exceeded", status=400))
    [result] = asyncio.run(_gather(_client(server), ["q"]))
    assert isinstance(result, TeacherRequestError) and len(server.requests) == 1


def test_retries_exhausted_raise_unavailable(openai_server):
    server = openai_server(lambda request: Reply(f"overloaded {SECRET}", status=503))
    client = _client(server, api_key=SECRET, max_retries=2)
    [result] = asyncio.run(_gather(client, ["x"]))
    assert isinstance(result, TeacherUnavailableError) and SECRET not in str(result)
    assert len(server.requests) == 3 and client.stats.retries["server_error"] == 2
    assert (client.stats.requests, client.stats.failed) == (1, 1)


def test_parse_retry_after_forms():
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after-ms": "250"}) == pytest.approx(0.25)
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert 28 <= parse_retry_after({"retry-after": soon}) <= 30
    assert parse_retry_after({"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_retry_after_seconds_is_honoured(openai_server):
    script = Script({"a": [Reply("wait", status=429, headers={"retry-after": "1"})]})
    server = openai_server(script)
    client = _client(server)
    start = time.monotonic()
    [result] = asyncio.run(_gather(client, ["a"]))
    assert result.attempts == 2 and time.monotonic() - start >= 0.95
    assert client.stats.retries["rate_limit"] == 1


def test_budget_cap_holds_under_concurrency(openai_server):
    server = openai_server(lambda request: Reply("ok"))
    prices = {"local-model": {"input": 1000.0, "output": 1000.0}}  # $0.001 per token
    client = _client(server, "local-model", prices=prices, max_cost_usd=0.30, max_concurrency=8)
    prompt = "x" * 40
    assert client.estimate_cost(_msg(prompt), 50) == pytest.approx(
        (prompt_token_bound(_msg(prompt)) + 50) / 1000
    )
    results = asyncio.run(_gather(client, [prompt] * 20, max_tokens=50))
    done = [r for r in results if isinstance(r, Completion)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(done) + len(refused) == 20 and refused
    assert len(done) == 19  # reservations ($0.097) are released as replies settle at $0.011
    assert client.stats.cost_usd <= 0.30 and len(server.requests) == len(done)
    assert client.stats.requests == len(done)


def test_budget_counts_earlier_spend_and_refuses_before_sending(openai_server):
    server = openai_server(lambda request: Reply("ok"))
    client = _client(server, "gpt-4o", max_cost_usd=1.0, spent_usd=0.99)
    [result] = asyncio.run(_gather(client, ["p"], max_tokens=3072))  # 3072 * $10/1M = $0.03 > $0.01 left
    assert isinstance(result, BudgetExceededError) and "max_cost_usd" in str(result)
    assert server.requests == [] and client.stats.requests == 0


def test_timed_out_attempts_stay_counted_against_the_cap(openai_server):
    server = openai_server(lambda request: Reply("late", delay=0.6))
    client = _client(server, "gpt-4o", max_cost_usd=5.0, timeout=0.2, max_retries=0)
    [result] = asyncio.run(_gather(client, ["p"], max_tokens=100))
    assert isinstance(result, TeacherUnavailableError)
    assert client.stats.unconfirmed_cost_usd == pytest.approx(client.estimate_cost(_msg("p"), 100))
    assert client.stats.retries["timeout"] == 0 and client.stats.failed == 1


def test_concurrency_limit_is_respected(openai_server):
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def responder(request: dict) -> Reply:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Reply("ok")

    server = openai_server(responder)
    # enough requests for the pacer's ramp (from 3/s, doubling every 0.25 s) to reach the cap
    results = asyncio.run(_gather(_client(server, max_concurrency=3), [f"p{i}" for i in range(100)]))
    assert all(isinstance(r, Completion) for r in results)
    assert state["peak"] == 3


@pytest.mark.parametrize(
    ("limits", "count", "minimum"),
    [({"requests_per_minute": 600}, 20, 0.9), ({"tokens_per_minute": 60_000}, 8, 0.9)],
)
def test_rate_limits_pace_requests(openai_server, limits, count, minimum):
    # RPM 600 = 10/s after a 1 s burst of 10; TPM 60k = 1000/s, each request paces 9 + 241 tokens.
    server = openai_server(lambda request: Reply("ok"))
    client = _client(server, max_concurrency=16, **limits)
    start = time.monotonic()
    results = asyncio.run(_gather(client, [f"p{i}" for i in range(count)], max_tokens=241))
    elapsed = time.monotonic() - start
    assert all(isinstance(r, Completion) for r in results)
    assert minimum <= elapsed < minimum + 2.5


def test_request_larger_than_tpm_is_a_config_error(openai_server):
    server = openai_server(lambda request: Reply("ok"))
    [result] = asyncio.run(_gather(_client(server, tokens_per_minute=1000), ["p"], max_tokens=2000))
    assert isinstance(result, ConfigError) and "tokens_per_minute" in str(result)


def test_prices_table_resolution_and_override(openai_server):
    table = load_price_table()
    assert table["date"] and table["source"].startswith("https://") and table["batch_discount"] == 0.5
    models = table["models"]
    for name in ("gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"):
        assert models[name]["input"] > 0 and models[name]["output"] > 0
    assert resolve_price("gpt-4o-2024-08-06", models) == models["gpt-4o"]
    assert resolve_price("gpt-4o-mini-2024-07-18", models) == models["gpt-4o-mini"]
    assert resolve_price("gpt-4.1-nano", models) is None
    server = openai_server(lambda request: Reply("ok"))
    with pytest.raises(ConfigError, match="no price known"):
        _client(server, "my-llama", max_cost_usd=1.0)
    assert _client(server, "my-llama").cost(1000, 1000) == 0.0
    override = _client(server, "gpt-4", prices={"gpt-4": {"input": 1.0, "output": 2.0}})
    assert override.cost(1_000_000, 1_000_000) == pytest.approx(3.0)


def test_missing_key_is_a_clear_error_and_env_fallback_works(openai_server, monkeypatch):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY") as info:
        TeacherClient("gpt-4")
    assert isinstance(info.value, TeacherAuthError)
    server = openai_server(lambda request: Reply("from env"))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    client = TeacherClient("gpt-4")
    assert SECRET not in repr(client) and client.base_url.startswith("http://127.0.0.1")
    [result] = asyncio.run(_gather(client, ["p"]))
    assert result.text == "from env"


def test_azure_endpoint_uses_deployment_path_api_version_and_api_key_header(openai_server):
    server = openai_server(lambda request: Reply("unused"))
    seen = []

    def azure(method: str, path: str, raw: bytes, headers: dict) -> Reply:
        import json

        seen.append((path, {k.lower(): v for k, v in headers.items()}))
        return Reply(body=chat_completion_body(json.loads(raw), Reply("from azure")))

    server.route("POST", "/v1/openai/deployments/", azure)
    client = TeacherClient(
        "my-gpt4o", base_url=server.base_url, api_key="azure-key", azure_api_version="2024-10-21"
    )
    [result] = asyncio.run(_gather(client, ["p"]))
    assert result.text == "from azure"
    path, headers = seen[0]
    assert (
        path.startswith("/v1/openai/deployments/my-gpt4o/chat/completions")
        and "api-version=2024-10-21" in path
    )
    assert headers["api-key"] == "azure-key"


def test_client_survives_several_event_loops(openai_server):
    server = openai_server(lambda request: Reply("ok"))
    client = _client(server, requests_per_minute=6000)
    for _ in range(2):
        assert asyncio.run(client.complete(_msg("p"))).text == "ok"
    assert client.stats.succeeded == 2


def test_connection_errors_are_retried_then_reported():
    import socket

    with socket.socket() as sock:  # a port with nothing listening: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TeacherClient(
        "gpt-4", base_url=f"http://127.0.0.1:{port}/v1", api_key="local", max_retries=1, **FAST
    )
    [result] = asyncio.run(_gather(client, ["p"]))
    assert isinstance(result, TeacherUnavailableError) and "connection" in str(result)
    assert client.stats.retries["connection"] == 1 and (client.stats.requests, client.stats.failed) == (1, 1)


def test_invalid_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"max_concurrency=0 .*requests_per_minute=-5"):
        TeacherClient("gpt-4", api_key="local", max_concurrency=0, requests_per_minute=-5)


def test_retry_after_a_timeout_needs_room_under_the_cap(openai_server):
    server = openai_server(Script({"p": [Reply("late", delay=0.6)]}, default=Reply("ok")))
    worst = TeacherClient("gpt-4o", base_url=server.base_url, api_key="local").estimate_cost(_msg("p"), 100)
    # Room for one attempt, not two: the timed-out one may be billed, so no retry is sent.
    client = _client(server, "gpt-4o", max_cost_usd=1.5 * worst, timeout=0.2, max_retries=3)
    [result] = asyncio.run(_gather(client, ["p"], max_tokens=100))
    assert isinstance(result, BudgetExceededError)
    assert len(server.requests) == 1 and client._reserved == 0
    assert client.total_cost_usd + client.stats.unconfirmed_cost_usd <= 1.5 * worst

    server2 = openai_server(Script({"p": [Reply("late", delay=0.6)]}, default=Reply("ok")))
    roomy = _client(server2, "gpt-4o", max_cost_usd=2.5 * worst, timeout=0.2, max_retries=3)
    [result] = asyncio.run(_gather(roomy, ["p"], max_tokens=100))
    assert isinstance(result, Completion) and result.attempts == 2 and roomy._reserved == 0
    assert roomy.total_cost_usd + roomy.stats.unconfirmed_cost_usd <= 2.5 * worst


def test_a_fastapi_400_keeps_its_detail(openai_server):
    # transformers serve (FastAPI) answers a wrong model name with {"detail": ...}, not {"error": ...}
    detail = "Server is pinned to '/models/SmolLM2-135M-Instruct'; requested 'smollm2'"
    server = openai_server(lambda request: Reply(status=400, body={"detail": detail}))
    [result] = asyncio.run(_gather(_client(server, "smollm2"), ["q"]))
    assert isinstance(result, TeacherRequestError)
    assert f"HTTP 400 rejected the request ({detail})" in str(result)
    validation = {"detail": [{"loc": ["body", "max_tokens"], "msg": "Input should be a valid integer"}]}
    server = openai_server(lambda request: Reply(status=422, body=validation))
    [result] = asyncio.run(_gather(_client(server), ["q"]))
    assert "(Input should be a valid integer)" in str(result)


def test_a_timeout_names_its_limit_and_fix_and_halves_the_requests_in_flight(openai_server):
    lock, state = threading.Lock(), {"now": 0, "peak_after": 0, "timeouts_seen": 0}
    first = threading.Event()

    def responder(request: dict) -> Reply:
        prompt = request["messages"][-1]["content"]
        if prompt == "slow":  # like a one-at-a-time server: the abandoned request keeps running
            first.set()
            return Reply("late", delay=0.6)
        with lock:
            state["now"] += 1
            if state["timeouts_seen"]:
                state["peak_after"] = max(state["peak_after"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Reply("ok")

    server = openai_server(responder)
    client = _client(server, timeout=0.3, max_concurrency=4, max_retries=0)

    async def scenario():
        try:
            slow = asyncio.ensure_future(client.complete(_msg("slow"), max_tokens=400))
            with pytest.raises(TeacherUnavailableError) as info:
                await slow
            state["timeouts_seen"] = 1
            await asyncio.gather(*(client.complete(_msg(f"p{i}")) for i in range(8)))
            return str(info.value)
        finally:
            await client.aclose()

    message = asyncio.run(scenario())
    assert "last cause timeout: no reply of up to 400 tokens within 0.3 s" in message
    assert "(raise --request-timeout / timeout=, or lower --max-tokens / max_tokens=)" in message
    assert client.concurrency_limit == 2 and state["peak_after"] <= 2


def test_missing_key_advice_works_at_the_command_line_too():
    with pytest.raises(ConfigError) as info:
        TeacherClient("gpt-4")
    assert "OPENAI_API_KEY=local bioinstruct" in str(info.value)
