"""Evaluation against a real OpenAI-compatible server (`transformers serve`) hosting a real small model.

What our scripted servers never showed: a real model's replies to the QA prompts (echoes, lists
of options, prose) and to the judge prompt (numbered lists, copies of the answer form). These
tests drive the real stack end to end and assert only what must hold whatever the model writes:
every item is answered and either parsed or counted as unparseable with a reason; every judge
item is scored with valid scores or counted unscored with its raw reply and the reason kept.
Sized for CI: a handful of items, short generations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.evaluation.answer_parsing import parse_answer
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.judge import Judge, parse_scores

pytestmark = [pytest.mark.slow]

ITEMS = 3


def test_openai_backend_scores_pubmedqa_generatively_on_a_real_server(
    transformers_server, samples_dir: Path, tmp_path: Path
) -> None:
    files = {"pubmedqa": str(samples_dir / "pubmedqa.jsonl")}
    evaluator = Evaluator(
        transformers_server.model_id,
        backend="openai",
        cache_dir=tmp_path / "cache",
        progress=False,
        backend_options={
            "base_url": transformers_server.base_url,
            "api_key": "local",
            "max_concurrency": 1,  # the server generates one at a time anyway
            "timeout": 240.0,
        },
    )
    results = evaluator.run("pubmedqa", limit=ITEMS, data_files=files, protocol="generate", template="chat")
    result = results.get("pubmedqa")
    assert result.n == ITEMS and result.protocol["protocol"] == "generative"
    assert result.protocol["backend"]["endpoint"].rstrip("/") == transformers_server.base_url.rstrip("/")
    outputs = [sample["output"] for sample in result.samples]
    assert all(isinstance(text, str) for text in outputs)
    assert any(text.strip() for text in outputs), f"the real model wrote nothing: {outputs!r}"
    # Every reply is either a choice or an unparseable one with its reason; the counts add up.
    for sample in result.samples:
        parsed = parse_answer(sample["output"], ["yes", "no", "maybe"], ["yes", "no", "maybe"])
        assert (sample["prediction"] is None) == (parsed.index is None) or sample.get("unparseable")
        if sample["prediction"] is None:
            assert sample["unparseable"]
    d = result.diagnostics
    assert sum(d["prediction_distribution"].values()) == ITEMS
    assert d["prediction_distribution"].get("(unparseable)", 0) == result.unparseable
    assert d["chance_baseline"] == pytest.approx(1 / 3)
    assert result.metrics["accuracy"] == sum(s["correct"] for s in result.samples) / ITEMS
    out = results.save(tmp_path / "eval")
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"][0]
    assert saved["diagnostics"]["chance_baseline"] == pytest.approx(1 / 3)
    assert "chance" in (out / "results.md").read_text(encoding="utf-8")
    # A rerun is served from the prediction cache: no request reaches the server.
    before = evaluator.backend.info()["usage"][transformers_server.model_id]["requests"]
    evaluator.run("pubmedqa", limit=ITEMS, data_files=files, protocol="generate", template="chat")
    assert evaluator.backend.info()["usage"][transformers_server.model_id]["requests"] == before


def test_judge_on_a_real_model_gives_scores_or_counted_failures(transformers_server, tmp_path: Path) -> None:
    # One item, two attempts: CI time is short, and what the model writes is kept either way.
    items = [
        {
            "id": "metformin",
            "question": "What is the first-line drug for type 2 diabetes?",
            "prediction": "Metformin is the usual first-line drug.",
            "reference": "Metformin.",
        },
    ]
    judge = Judge(
        transformers_server.model_id,
        base_url=transformers_server.base_url,
        api_key="local",
        cache_dir=tmp_path / "judge",
        max_attempts=2,
        max_tokens=32,
        max_concurrency=1,
        timeout=240.0,  # a busy 2-core runner; a timed-out request would keep the server busy
    )
    result = judge.score("meqsum", items)
    axes = result.protocol["judge_axes"]
    assert len(result.per_item) == len(result.replies) == len(result.errors) == len(items)
    for scores, reply, error in zip(result.per_item, result.replies, result.errors, strict=True):
        assert isinstance(reply, str)  # the raw reply is kept, parsed or not
        if scores:
            assert error is None and parse_scores(reply, axes) == scores
        else:
            assert error and error.startswith("no valid scores after 2 attempts")
    assert result.protocol["judge_unscored"] == len(items) - result.n_scored
    assert result.copied == [False] * len(items)  # the bundled prompt shows no numbers to copy
    if result.n_scored:
        assert set(result.summary) == set(axes) and all(1 <= v <= 5 for v in result.summary.values())
