"""The builder against a REAL OpenAI-compatible server: ``transformers serve`` hosting
SmolLM2-135M-Instruct on 127.0.0.1 (the session fixture ``transformers_server``).

What a real server does that our fakes did not: it runs one generation at a time (5-6 tokens/s on
2 CPU cores), keeps generating after a client gives up, ignores ``response_format`` and answers
errors the FastAPI way. A 135M model also writes what a strong teacher never would: items
renumbered from 1, seeds copied, prose, labels that are numbers. The runs keep the paper's three
seeds per prompt (with one seed SmolLM2 copies it) but ask for two new tasks in a short
completion, with the bundled ``generate_small.jinja`` (the paper's ``generate.jinja`` gave 1 usable
task in 14 replies). Every request carries a seed that transformers serve
honours, so a run is the same run on every try: the numbered run keeps its second row at reply 14.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bioinstruct.generation.builder import BioInstructBuilder
from bioinstruct.llm.client import TeacherClient, TeacherRequestError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sampling_server(small_model_dir):
    """Like the session's ``transformers_server``, but sampling: SmolLM2's generation config has no
    ``do_sample``, so the server otherwise decodes greedily whatever the temperature, and a greedy
    135M teacher copies its prompt's seed or loops until max_tokens."""
    from bioinstruct.testing.transformers_serve import ServerUnavailable, TransformersServer

    try:
        server = TransformersServer(small_model_dir, sampling=True)
        server.command()
    except ServerUnavailable as err:
        pytest.skip(str(err))
    with server:
        yield server


TARGET = 2
MAX_COST = 10.0


def _builder(folder: Path, server, **overrides) -> BioInstructBuilder:
    options = dict(
        teacher_model=server.model_id,
        base_url=server.base_url,
        api_key="local",
        num_prompt_seeds=3,
        tasks_per_prompt=5,
        max_tokens=200,
        prompt_template="generate_small.jinja",  # the bundled prompt for small teachers
        temperature=1.0,
        timeout=900.0,  # generous: a busy CI core; the limit itself is unit-tested
        max_retries=1,
        max_concurrency=1,  # the server runs one generation at a time
        label_batch_size=TARGET,
        label_attempts=2,
        similarity_threshold=0.7,
        zero_yield_replies=24,
        # a price for the local model only to bound the run: at most 50 replies of 200 tokens
        prices={server.model_id: {"input": 0.0, "output": 1000.0}},
        max_cost_usd=MAX_COST,
        progress=False,
        seed=11,
    )
    options.update(overrides)
    return BioInstructBuilder(folder, **options)


def _accounting(folder: Path) -> tuple[dict, list[dict]]:
    """run.json and the journal after a build: never left ``running``, every request counted once."""
    journal = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] != "running", run["status"]
    teacher = run["teacher"]
    assert teacher["requests"] == teacher["succeeded"] + teacher["failed"] + teacher[
        "cancelled"
    ] + teacher.get("lost", 0)
    replies = [e for e in journal if e["event"] == "reply" and e["kind"] == "generate"]
    parses = [e for e in journal if e["event"] == "parse"]
    assert replies and len(parses) == len(replies)  # every real reply was parsed or counted as a problem
    return run, journal


def _check(folder: Path, builder: BioInstructBuilder, dataset, started: float) -> dict:
    """A full run: exactly N rows from a real 135M teacher, run.json final, counters adding up,
    every label parsed or a counted fallback."""
    run, journal = _accounting(folder)
    minutes = (time.monotonic() - started) / 60
    replies = sum(e["event"] == "reply" and e["kind"] == "generate" for e in journal)
    print(
        f"\n{folder.name}: stop {builder.stop_reason}, {len(dataset)} of {TARGET} rows in {minutes:.1f} min from "
        f"{replies} generation replies, {run['teacher']['completion_tokens']} completion tokens; problems "
        f"{run['counters']['reply_problems']}; rejected {run['counters']['rejected_by_filter']}; label fallbacks "
        f"{run['counters']['label_fallbacks']}; json ignored {run['teacher']['json_mode_ignored']}"
    )
    assert builder.stop_reason == "complete", builder.stop_message or run["counters"]
    assert run["teacher"]["cost_usd"] <= MAX_COST + 1e-9
    rows = [json.loads(line) for line in (folder / "instructions.jsonl").read_text().splitlines()]
    assert len(dataset) == TARGET and len(rows) == TARGET
    assert len({row["instruction"] for row in rows}) == TARGET
    assert all(row["instruction"].strip() and row["output"].strip() for row in rows)
    # every label is the teacher's parsed answer or a counted fallback, never silently lost
    labelled = sum(row["label_source"] == "teacher" for row in rows)
    assert labelled + run["counters"]["label_fallbacks"] == TARGET
    assert all(row["category"] in ("QA", "IE", "GEN", "OTHER") for row in rows)
    assert run["counters"].get("rejected_by_filter", {}).get("label", 0) == 0
    label_prompts = [e["prompt"] for e in journal if e["event"] == "request" and e["kind"] == "label"]
    assert label_prompts and len(set(label_prompts)) == len(label_prompts)  # retries change the prompt
    return run


def test_numbered_mode_ends_with_exactly_n_rows(sampling_server, tmp_path):
    folder = tmp_path / "numbered"
    builder, started = _builder(folder, sampling_server), time.monotonic()
    _check(folder, builder, builder.build(TARGET), started)


def test_json_mode_survives_a_server_that_ignores_response_format(sampling_server, tmp_path):
    folder = tmp_path / "json"
    builder, started = _builder(folder, sampling_server, json_mode=True), time.monotonic()
    run = _check(folder, builder, builder.build(TARGET), started)
    journal = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    first = next(e for e in journal if e["event"] == "parse")
    # SmolLM2 answers the JSON request in prose or the numbered list: said once, then numbered
    if first["mode"] == "numbered":
        assert run["teacher"]["json_mode_ignored"] is True


def test_a_wrong_model_name_reports_the_servers_reason(transformers_server):
    client = TeacherClient("smollm2", base_url=transformers_server.base_url, api_key="local", max_retries=0)

    async def ask():
        try:
            return await client.complete([{"role": "user", "content": "Hi"}], max_tokens=4)
        finally:
            await client.aclose()

    with pytest.raises(TeacherRequestError) as info:
        asyncio.run(ask())
    message = str(info.value)
    assert "HTTP 4" in message and "smollm2" in message, message
    assert "Error code" not in message  # the FastAPI ``detail``, not the SDK's generic text
