"""BioInstructBuilder against a real local chat-completions server that injects faults.

Every test ends by checking the invariants of a run: exactly the requested rows, unique ids and
instructions, every row traceable to a kept candidate in the journal, and no secret on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.generation.builder import ROW_FIELDS, BioInstructBuilder
from bioinstruct.generation.seeds import load_seed_tasks
from bioinstruct.llm.client import TeacherAuthError
from bioinstruct.similarity.rouge import SimilarityIndex
from bioinstruct.testing.openai_server import Reply
from tests.generation.builder_fakes import (
    LABEL_MARKER,
    ScriptedTeacher,
    good_reply,
    instruction_text,
    label_reply,
    numbered_item,
)

SECRET = "sk-test-SECRETKEY-1234567890"


def make_builder(folder: Path, server, **overrides) -> BioInstructBuilder:
    options = dict(
        teacher_model="gpt-4",
        base_url=server.base_url,
        api_key=SECRET,
        max_concurrency=1,
        progress=False,
        timeout=5.0,
        max_retries=3,
    )
    options.update(overrides)
    return BioInstructBuilder(folder, **options)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_run(folder: Path, expected_rows: int) -> tuple[list[dict], list[dict], dict]:
    rows = read_jsonl(folder / "instructions.jsonl")
    journal = read_jsonl(folder / "journal.jsonl")
    run = json.loads((folder / "run.json").read_text())
    assert len(rows) == expected_rows
    assert len({row["id"] for row in rows}) == expected_rows
    assert len({row["instruction"] for row in rows}) == expected_rows
    kept = {event["id"] for event in journal if event["event"] == "candidate" and event["decision"] == "kept"}
    assert {row["id"] for row in rows} <= kept
    for row in rows:
        assert tuple(row) == ROW_FIELDS and row["category"] in ("QA", "IE", "GEN", "OTHER")
    assert run["counters"]["kept"] == expected_rows
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    return rows, journal, run


KNOWN = (
    numbered_item(
        4,
        "Summarize the discharge note for the patient.",
        "Admitted with pneumonia; improved.",
        "Pneumonia, improved.",
    )
    + numbered_item(5, "Draw a diagram of the nephron.", "<noinput>", "A nephron.")
    + numbered_item(
        6, "Which enzyme is deficient in phenylketonuria?", "<noinput>", "Phenylalanine hydroxylase."
    )
    + numbered_item(7, "Extract every medication from the note.", "Start metformin 500 mg.", "metformin")
)


def test_known_reply_gives_exact_rows_and_prompt(tmp_path, openai_server):
    teacher = ScriptedTeacher(faults={1: Reply(KNOWN)})
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server)
    dataset = builder.build(3)

    seeds = builder.sample_seeds(1)
    first = server.requests[0]
    assert first["messages"] == builder.generation_messages(seeds)
    assert first["model"] == "gpt-4" and first["max_tokens"] == 3072 and first["temperature"] == 1.0
    index = SimilarityIndex("rouge")
    for task in load_seed_tasks():
        index.add(task["instruction"], id=task["id"])
    expected = []
    for position, (instruction, input_text, output) in [
        (
            1,
            (
                "Summarize the discharge note for the patient.",
                "Admitted with pneumonia; improved.",
                "Pneumonia, improved.",
            ),
        ),
        (3, ("Which enzyme is deficient in phenylketonuria?", "", "Phenylalanine hydroxylase.")),
        (4, ("Extract every medication from the note.", "Start metformin 500 mg.", "metformin")),
    ]:
        score, match = index.max_similarity(instruction)
        index.add(instruction, id=f"gen-000001-{position:02d}")
        expected.append(
            {
                "id": f"gen-000001-{position:02d}",
                "instruction": instruction,
                "input": input_text,
                "output": output,
                "category": ("QA", "IE", "GEN", "OTHER")[len(instruction) % 4],
                "label_source": "teacher",
                "seed_ids": [seed["id"] for seed in seeds],
                "request_id": "gen-000001",
                "teacher_model": "gpt-4",
                "most_similar": {"id": match, "score": round(score, 4)},
            }
        )
    rows, journal, run = check_run(tmp_path, 3)
    assert rows == expected
    assert dataset.to_list() == expected
    assert run["status"] == "complete" and run["config"]["seed_set_hash"] == builder.seed_hash
    assert run["counters"]["rejected_by_filter"] == {"blacklist": 1}
    assert [e["event"] for e in journal][:3] == ["request", "reply", "parse"]
    label_request = next(e for e in journal if e["event"] == "request" and e["kind"] == "label")
    assert label_request["ids"] == ["gen-000001-01", "gen-000001-03", "gen-000001-04"]
    assert teacher.generation_calls == 1 and teacher.label_calls == 1


def test_faults_end_in_the_right_counts(tmp_path, openai_server):
    seed_instruction = load_seed_tasks()[0]["instruction"]
    earlier = instruction_text("g3:4")  # an instruction accepted from the first good reply
    rejects = (
        numbered_item(4, "Define the term hypoxemia for students.", "<noinput>", "")  # empty_output
        + numbered_item(5, "Define hypoxemia", "<noinput>", "Low oxygen.")  # instruction_length
        + numbered_item(
            6, "Repeat the medication list exactly.", "Aspirin 81 mg.", "aspirin 81 mg."
        )  # output_equals_input
        + numbered_item(
            7, "Plot the glucose readings over one week.", "90, 110, 150", "A rising trend."
        )  # blacklist
        + numbered_item(
            8, "Explain why anticoagulation is started here.", "AF, CHA2DS2-VASc 4.", "High stroke risk."
        )
        + numbered_item(
            9, "Explain why anticoagulation is started here.", "AF, CHA2DS2-VASc 4.", "Stroke risk."
        )  # duplicate
        + numbered_item(10, seed_instruction, "A: chest pain. B: no chest pain.", "0")  # similarity (seed)
        + numbered_item(11, earlier, "Note.", "Answer.")  # similarity (accepted row)
        + numbered_item(
            12,
            "Give two causes of microcytic anemia in adults.",
            "<noinput>",
            "Iron deficiency, thalassemia.",
        )
    )
    truncated = good_reply("g5", 4, 8) + numbered_item(9, "Cut short", "x", "partial")
    faults = {
        1: Reply("slow down", status=429, headers={"Retry-After": "0.05"}),
        2: Reply("boom", status=500, headers={"retry-after-ms": "20"}),
        4: Reply("I'm sorry, but I can't help with generating these tasks."),
        5: Reply(truncated, finish_reason="length"),
        6: Reply(rejects),
    }
    teacher = ScriptedTeacher(faults=faults)
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server)
    assert len(builder.build(17 + 5 + 2)) == 24

    rows, journal, run = check_run(tmp_path, 24)
    counters = run["counters"]
    assert counters["generation_requests"] == 4 and counters["failed_requests"] == 0
    assert counters["reply_problems"] == {"refusal": 1}
    assert counters["truncated_items"] == 1
    assert counters["rejected_by_filter"] == {
        "blacklist": 1,
        "duplicate_in_reply": 1,
        "empty_output": 1,
        "instruction_length": 1,
        "output_equals_input": 1,
        "similarity": 2,
    }
    assert counters["candidates"] == 17 + 5 + 9 and counters["surplus"] == 0
    assert run["teacher"]["retries"]["rate_limit"] == 1 and run["teacher"]["retries"]["server_error"] == 1
    first_reply = next(e for e in journal if e["event"] == "reply")
    assert first_reply["request_id"] == "gen-000001" and first_reply["attempts"] == 3
    similar = [e for e in journal if e.get("filter") == "similarity"]
    assert [e["most_similar"]["id"] for e in similar] == ["seed_001", "gen-000001-01"]
    assert teacher.generation_calls == 6


def test_slow_reply_past_the_timeout_is_retried(tmp_path, openai_server):
    teacher = ScriptedTeacher(faults={1: Reply(good_reply("slow"), delay=1.5)})
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server, timeout=0.5)
    assert len(builder.build(5)) == 5
    _, _, run = check_run(tmp_path, 5)
    assert run["teacher"]["retries"]["timeout"] == 1


def test_401_stops_at_once_without_leaking_the_key(tmp_path, openai_server):
    teacher = ScriptedTeacher(
        faults={n: Reply("Incorrect API key provided", status=401) for n in range(1, 50)}
    )
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server, max_concurrency=4)
    with pytest.raises(TeacherAuthError) as info:
        builder.build(10)
    assert SECRET not in str(info.value) and "401" in str(info.value)
    assert teacher.generation_calls <= 4  # the requests already in flight, no retry storm
    check_run(tmp_path, 0)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["status"] == "failed" and run["counters"]["failed_requests"] >= 1


def test_budget_cap_holds_and_resume_respects_it(tmp_path, openai_server):
    teacher = ScriptedTeacher()
    server = openai_server(teacher)
    cap = 0.5
    builder = make_builder(tmp_path, server, max_cost_usd=cap, max_concurrency=2)
    dataset = builder.build(500)
    assert builder.stop_reason == "budget" and 0 < len(dataset) < 500
    rows, journal, run = check_run(tmp_path, len(dataset))
    assert run["status"] == "budget" and run["counters"]["cost_usd"] <= cap
    assert any(e["event"] == "budget_stop" for e in journal)
    calls = teacher.generation_calls

    again = make_builder(tmp_path, server, max_cost_usd=cap, max_concurrency=2)
    assert len(again.build(500)) >= len(dataset)  # at most labels for candidates still pending
    assert teacher.generation_calls == calls  # no generation request fits in what is left
    assert json.loads((tmp_path / "run.json").read_text())["counters"]["cost_usd"] <= cap

    more = make_builder(tmp_path, server, max_cost_usd=cap * 3, max_concurrency=2)
    target = len(dataset) + 10
    assert len(more.build(target)) == target
    check_run(tmp_path, target)


def test_unreadable_labels_are_retried_then_kept_as_a_counted_other_fallback(tmp_path, openai_server):
    marker = "Unlabellable"

    def labels(request):
        reply = label_reply(request, lambda text: "20." if marker in text else "GEN")
        return Reply(reply)

    reply = numbered_item(
        4, f"{marker} task about renal clearance today.", "GFR 40.", "Reduced."
    ) + good_reply("x", 5, 9)
    teacher = ScriptedTeacher(
        faults={1: Reply(reply)},
        label_faults={1: Reply("1. 20.\n2. 20."), **{n: labels for n in range(2, 20)}},
    )
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server, label_attempts=3)
    assert len(builder.build(5)) == 5
    rows, journal, run = check_run(tmp_path, 5)
    fallback = [row for row in rows if row["label_source"] == "fallback"]
    assert [row["id"] for row in fallback] == ["gen-000001-01"] and fallback[0]["category"] == "OTHER"
    assert all(
        row["category"] == "GEN" and row["label_source"] == "teacher" for row in rows if row not in fallback
    )
    assert run["counters"]["label_fallbacks"] == 1 and "label" not in run["counters"]["rejected_by_filter"]
    (unlabelled,) = [e for e in journal if e["event"] == "unlabelled"]
    assert unlabelled["id"] == "gen-000001-01" and "3 attempts" in unlabelled["reason"]
    assert "'1. 20.'" in unlabelled["reason"] and unlabelled["fallback"] == "OTHER"
    label_requests = [e for e in journal if e["event"] == "request" and e["kind"] == "label"]
    assert len({e["prompt"] for e in label_requests}) == len(label_requests)  # no identical retry
    assert "could not be used" in label_requests[1]["prompt"]
    assert teacher.label_calls == 3 and teacher.generation_calls == 1  # no candidate lost


def test_resume_after_a_normal_stop_continues_to_exact_count(tmp_path, openai_server):
    server = openai_server(ScriptedTeacher())
    first = make_builder(tmp_path, server, max_concurrency=3).build(20)
    rows_before = read_jsonl(tmp_path / "instructions.jsonl")
    second = make_builder(tmp_path, server, max_concurrency=3).build(45)
    rows, journal, run = check_run(tmp_path, 45)
    assert rows[:20] == rows_before and first.to_list() == rows_before and second.to_list() == rows
    request_ids = [e["request_id"] for e in journal if e["event"] == "request" and e["kind"] == "generate"]
    assert len(request_ids) == len(set(request_ids)) == run["counters"]["generation_requests"]
    assert make_builder(tmp_path, server).build(10).to_list() == rows[:10]  # smaller target: a prefix


def test_pending_candidates_survive_a_failed_run(tmp_path, openai_server):
    teacher = ScriptedTeacher(label_faults={n: Reply("bad key", status=401) for n in range(1, 10)})
    server = openai_server(teacher)
    with pytest.raises(TeacherAuthError):
        make_builder(tmp_path, server).build(12)
    journal = read_jsonl(tmp_path / "journal.jsonl")
    kept = [e["id"] for e in journal if e["event"] == "candidate" and e["decision"] == "kept"]
    assert len(kept) == 12 and not (tmp_path / "instructions.jsonl").read_text()

    teacher.label_faults.clear()
    calls = teacher.generation_calls
    make_builder(tmp_path, server).build(12)
    rows, _, _ = check_run(tmp_path, 12)
    assert [row["id"] for row in rows] == kept  # recovered from the journal, no new generation
    assert teacher.generation_calls == calls


def test_torn_tails_are_dropped_and_the_run_completes(tmp_path, openai_server):
    server = openai_server(ScriptedTeacher())
    make_builder(tmp_path, server).build(10)
    with (tmp_path / "instructions.jsonl").open("a") as handle:
        handle.write('{"id": "gen-000009-01", "instruction": "torn')
    with (tmp_path / "journal.jsonl").open("a") as handle:
        handle.write('{"event": "candidate", "decision": "kept", "id": "gen-0')
    make_builder(tmp_path, server).build(30)
    check_run(tmp_path, 30)


def test_json_mode(tmp_path, openai_server):
    def generation(request):
        if LABEL_MARKER in request["messages"][-1]["content"]:
            return Reply(label_reply(request))
        tasks = [
            {"instruction": instruction_text(f"j{n}"), "input": "", "output": f"out {n}"} for n in range(6)
        ]
        return Reply(json.dumps({"tasks": tasks}))

    server = openai_server(generation)
    builder = make_builder(tmp_path, server, json_mode=True)
    assert len(builder.build(6)) == 6
    first = server.requests[0]
    assert first["response_format"] == {"type": "json_object"} and "JSON" in first["messages"][-1]["content"]
    rows, _, _ = check_run(tmp_path, 6)
    assert [row["input"] for row in rows] == [""] * 6


def test_batch_api_mode_resumes_polling_after_a_restart(tmp_path, openai_server, monkeypatch):
    from bioinstruct.llm.batch import BatchRunner
    from bioinstruct.testing.batch_server import FakeBatchBackend

    teacher = ScriptedTeacher()
    server = openai_server(teacher)
    backend = FakeBatchBackend(server, polls_to_complete=2)
    real_wait = BatchRunner.wait
    calls = {"n": 0}

    async def interrupted_wait(self, batch_id, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # Ctrl-C while the batch is in progress
        return await real_wait(self, batch_id, **kwargs)

    monkeypatch.setattr(BatchRunner, "wait", interrupted_wait)
    with pytest.raises(KeyboardInterrupt):
        make_builder(tmp_path, server, batch_api=True, batch_poll_interval=0.01).build(30)
    (submitted,) = [e for e in read_jsonl(tmp_path / "journal.jsonl") if e["event"] == "batch_submitted"]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "interrupted"

    builder = make_builder(tmp_path, server, batch_api=True, batch_poll_interval=0.01)
    assert len(builder.build(30)) == 30
    rows, journal, run = check_run(tmp_path, 30)
    batches = [e["batch_id"] for e in journal if e["event"] == "batch_submitted"]
    assert batches[0] == submitted["batch_id"] and len(backend.batches) == len(batches)
    ingested = [e["batch_id"] for e in journal if e["event"] == "batch_ingested"]
    assert ingested == batches
    assert {row["request_id"] for row in rows} <= {r["request_id"] for r in submitted["requests"]} | {
        r["request_id"] for e in journal if e["event"] == "batch_submitted" for r in e["requests"]
    }
    assert run["config"]["batch_api"] is True


def test_dead_endpoint_fails_after_the_first_request_not_ten(tmp_path):
    import socket

    from bioinstruct.llm.client import TeacherError

    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    builder = BioInstructBuilder(
        tmp_path, base_url=f"http://127.0.0.1:{port}/v1", api_key=SECRET, max_concurrency=1,
        max_retries=1, progress=False,
    )  # fmt: skip
    with pytest.raises(TeacherError, match=rf"127\.0\.0\.1:{port}") as info:
        builder.build(5)
    assert "no teacher request has succeeded" in str(info.value) and SECRET not in str(info.value)
    requests = [e for e in read_jsonl(tmp_path / "journal.jsonl") if e["event"] == "request"]
    assert len(requests) == 1


def test_output_dir_that_is_a_file_is_a_config_error(tmp_path, openai_server):
    from bioinstruct.errors import ConfigError

    (tmp_path / "taken").write_text("x")
    builder = make_builder(tmp_path / "taken", openai_server(ScriptedTeacher()))
    with pytest.raises(ConfigError, match="cannot be used as a run folder"):
        builder.build(5)


def test_export_alpaca_follows_the_requested_count(tmp_path, openai_server):
    from bioinstruct.errors import DataError

    server = openai_server(ScriptedTeacher())
    make_builder(tmp_path / "run", server).build(12)
    builder = make_builder(tmp_path / "run", server)
    assert len(builder.build(5)) == 5
    builder.export_alpaca(tmp_path / "five.json", limit=5)
    assert len(json.loads((tmp_path / "five.json").read_text())) == 5
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(DataError, match="cannot write the Alpaca export"):
        builder.export_alpaca(tmp_path / "folder.json")


def test_a_run_stopped_before_any_row_returns_an_empty_dataset(tmp_path, openai_server):
    teacher = ScriptedTeacher()
    builder = make_builder(tmp_path, openai_server(teacher), max_cost_usd=0.01)
    dataset = builder.build(20)
    assert builder.stop_reason == "budget" and teacher.generation_calls == 0
    assert len(dataset) == 0 and list(dataset.features) == list(ROW_FIELDS)
    check_run(tmp_path, 0)


def test_structured_refusal_with_null_content_counts_as_refusal(tmp_path, openai_server):
    from bioinstruct.testing.openai_server import chat_completion_body

    def refusal(request):
        body = chat_completion_body(request, Reply(None))
        body["choices"][0]["message"]["refusal"] = "I can't help with that."
        return Reply(body=body)

    server = openai_server(ScriptedTeacher(faults={1: refusal}))
    assert len(make_builder(tmp_path, server).build(5)) == 5
    _, _, run = check_run(tmp_path, 5)
    assert run["counters"]["reply_problems"] == {"refusal": 1}
