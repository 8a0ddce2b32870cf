"""The OpenAI-compatible backend against a real local HTTP server (generative protocol only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.testing.openai_server import Reply


def _gold_by_question(fixtures_dir: Path) -> dict[str, dict]:
    rows = [
        json.loads(line) for line in (fixtures_dir / "medqa.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return {row["question"]: row for row in rows}


def test_generative_eval_over_http_with_retries_and_cost(
    openai_server, fixtures_dir: Path, tmp_path: Path
) -> None:
    rows = _gold_by_question(fixtures_dir)
    calls = {"n": 0}

    def responder(request: dict) -> Reply:
        calls["n"] += 1
        if calls["n"] == 2:  # one transient server error: retried by the teacher client
            return Reply(status=500, content="boom")
        prompt = request["messages"][-1]["content"]
        row = next(r for q, r in rows.items() if q in prompt)
        if request["model"] == "tuned":
            return Reply(f"({row['answer_idx']}) {row['answer']}")
        return Reply("I cannot tell.")

    server = openai_server(responder)
    evaluator = Evaluator(
        "base-model",
        adapters=["tuned"],
        backend="openai",
        cache_dir=tmp_path,
        progress=False,
        backend_options={
            "base_url": server.base_url,
            "api_key": "sk-local-secret-123",
            "max_retries": 2,
            "prices": {"base-model": {"input": 1.0, "output": 2.0}, "tuned": {"input": 1.0, "output": 2.0}},
        },
    )
    evaluator.backend._clients["tuned"].backoff_base = 0.01
    evaluator.backend._clients["base-model"].backoff_base = 0.01
    results = evaluator.run("medqa", limit=6, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")})
    base, tuned = results.get("medqa"), results.get("medqa", adapter="tuned")
    assert tuned.metrics["accuracy"] == 1.0 and tuned.unparseable == 0
    assert base.metrics["accuracy"] == 0.0 and base.unparseable == 6
    assert tuned.protocol["protocol"] == "generative"  # the default for a backend without log-likelihoods
    assert {r["temperature"] for r in server.requests} == {0.0}
    assert all(r["max_tokens"] == 32 for r in server.requests)
    usage = tuned.protocol["backend"]["usage"]
    assert usage["tuned"]["succeeded"] == 6 and usage["tuned"]["cost_usd"] > 0
    saved = results.save(tmp_path / "out")
    assert "sk-local-secret-123" not in "".join(p.read_text() for p in saved.rglob("*.json*"))
    # Rerun: everything comes from the cache, no request is sent.
    sent = len(server.requests)
    Evaluator(
        "base-model",
        adapters=["tuned"],
        backend="openai",
        cache_dir=tmp_path,
        progress=False,
        backend_options={"base_url": server.base_url, "api_key": "local"},
    ).run("medqa", limit=6, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")})
    assert len(server.requests) == sent


def test_loglik_protocol_is_refused(openai_server, fixtures_dir: Path) -> None:
    server = openai_server(lambda request: Reply("A"))
    evaluator = Evaluator(
        "gpt-4o",
        backend="openai",
        progress=False,
        backend_options={"base_url": server.base_url, "api_key": "local"},
    )
    with pytest.raises(ConfigError, match="cannot score log-likelihoods; use --protocol generate"):
        evaluator.run(
            "medqa", limit=2, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")}, protocol="loglik"
        )
    assert server.requests == []


def test_auth_error_stops_without_leaking_the_key(openai_server, fixtures_dir: Path) -> None:
    server = openai_server(lambda request: Reply(status=401, content="bad key"))
    evaluator = Evaluator(
        "gpt-4o",
        backend="openai",
        progress=False,
        backend_options={"base_url": server.base_url, "api_key": "sk-very-secret-999"},
    )
    with pytest.raises(BioInstructError) as info:
        evaluator.run("medqa", limit=2, data_files={"medqa": str(fixtures_dir / "medqa.jsonl")})
    assert "sk-very-secret-999" not in str(info.value)
    assert len(server.requests) <= 2  # no retry storm


def test_two_endpoints_serving_the_same_model_name_do_not_share_cached_predictions(
    openai_server, fixtures_dir: Path, tmp_path: Path
) -> None:
    first = openai_server(lambda request: Reply("A"))
    second = openai_server(lambda request: Reply("B"))
    data = {"medqa": str(fixtures_dir / "medqa.jsonl")}
    for server in (first, second):
        Evaluator(
            "same-name",
            backend="openai",
            cache_dir=tmp_path,
            progress=False,
            backend_options={"base_url": server.base_url, "api_key": "local"},
        ).run("medqa", limit=3, data_files=data)
    assert len(first.requests) == 3 and len(second.requests) == 3
