"""The builder on what a real small teacher writes, replayed by the local server.

The replies below were written by SmolLM2-135M-Instruct behind ``transformers serve`` on this
project's CI machine (captured with the prompts of the bundled seeds; the live model is
exercised by test_real_teacher.py). Replaying them keeps these tests fast and exact.
"""

from __future__ import annotations

import io
import json
import logging

from bioinstruct.generation.progress import SessionProgress, cost_text
from bioinstruct.testing.openai_server import Reply
from tests.generation.builder_fakes import LABEL_MARKER, ScriptedTeacher, good_reply, label_reply
from tests.generation.test_builder import check_run, make_builder, read_jsonl

#: a new instruction whose input and output are seed_046's, renumbered from 1 (numbered mode)
REAL_COPIED_SEED_REPLY = (
    "1. Instruction: Extract the gene names and the sequence variants reported for each gene in the genetics "
    "report.\n2. Input:\nI've had a pounding headache behind my eyes since Monday morning, it's about an 8 out "
    "of 10. Yesterday I started feeling sick to my stomach, not terrible. My neck has been a bit stiff for the "
    "last two days too.\n2. Output:\n- Headache (pounding, behind the eyes): onset Monday morning; onset Tuesday "
    'morning; severity 8/10\n- Nausea: onset yesterday; about 1 day; mild ("not terrible")\n- Neck stiffness: '
    'onset 2 days ago; mild ("a bit stiff")'
)

#: its reply to a JSON-mode request (response_format ignored; cut at max_tokens=150): prose, then a fence
REAL_JSON_MODE_PROSE = 'The task is to extract tumor size, histologic grade, lymph node status, and receptor results from a pathology report. The instructions are to write the output in the specified format, using the specified format. The output should be a JSON object with the following structure:\n\n```json\n{\n    "tasks": [\n        {\n            "instruction": "Extract tumor size, histologic grade, lymph node status, and receptor results from the pathology report",\n            "input": {\n                "instruction": "Extract tumor size, histologic grade, lymph node status, and receptor results from the pathology report",\n                "output": "The output should be a JSON object with the following structure:\n                {\n                    "tasks": [\n                        {\n                            "instruction'


def test_a_run_that_keeps_nothing_stops_with_one_line_saying_why(tmp_path, openai_server, caplog):
    server = openai_server(lambda request: Reply(REAL_COPIED_SEED_REPLY))
    builder = make_builder(tmp_path, server, zero_yield_replies=4)
    with caplog.at_level(logging.WARNING, logger="bioinstruct"):
        assert len(builder.build(5)) == 0
    assert builder.stop_reason == "zero_yield" and len(server.requests) == 4
    assert builder.stop_message.startswith("stopped: 4 teacher replies gave 0 usable tasks")
    assert "rejected by filter: copied_seed_output 4" in builder.stop_message
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [builder.stop_message]
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["status"] == "zero_yield" and run["counters"]["rejected_by_filter"] == {
        "copied_seed_output": 4
    }


def test_json_mode_on_a_server_that_ignores_response_format_falls_back_to_numbered(
    tmp_path, openai_server, caplog
):
    teacher = ScriptedTeacher()  # answers every generation request in the numbered format, as SmolLM2 does
    server = openai_server(teacher)
    builder = make_builder(tmp_path, server, json_mode=True)
    with caplog.at_level(logging.WARNING, logger="bioinstruct"):
        assert len(builder.build(20)) == 20
    check_run(tmp_path, 20)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "--json-mode: reply gen-000001 is not JSON (the server ignores response_format); "
        "reading replies as numbered lists and asking for that format from now on"
    ]
    generation = [r for r in server.requests if LABEL_MARKER not in r["messages"][-1]["content"]]
    assert (
        generation[0]["response_format"] == {"type": "json_object"}
        and "JSON" in generation[0]["messages"][0]["content"]
    )
    assert all(
        "response_format" not in r and '{"tasks"' not in r["messages"][0]["content"] for r in generation[1:]
    )
    parses = [e for e in read_jsonl(tmp_path / "journal.jsonl") if e["event"] == "parse"]
    assert {e["mode"] for e in parses} == {"numbered"} and all(e["candidates"] for e in parses)
    assert json.loads((tmp_path / "run.json").read_text())["teacher"]["json_mode_ignored"] is True


def test_the_real_json_mode_prose_is_detected_and_the_run_completes(tmp_path, openai_server, caplog):
    from bioinstruct.generation.parsing import looks_like_json, parse_reply

    assert not looks_like_json(REAL_JSON_MODE_PROSE) and looks_like_json('```json\n{"tasks": []}')
    assert parse_reply(REAL_JSON_MODE_PROSE, "length", mode="json").candidates == []
    teacher = ScriptedTeacher(faults={1: Reply(REAL_JSON_MODE_PROSE, finish_reason="length")})
    server = openai_server(teacher)
    with caplog.at_level(logging.WARNING, logger="bioinstruct"):
        assert len(make_builder(tmp_path, server, json_mode=True).build(5)) == 5
    assert sum("is not JSON" in r.getMessage() for r in caplog.records) == 1
    parses = [e for e in read_jsonl(tmp_path / "journal.jsonl") if e["event"] == "parse"]
    assert parses[0]["problem"] == "unparseable" and parses[0]["candidates"] == 0
    assert all(e["mode"] == "numbered" for e in parses) and parses[1]["candidates"] > 0


def test_json_mode_that_the_server_honours_stays_json(tmp_path, openai_server):
    def responder(request):
        prompt = request["messages"][-1]["content"]
        if LABEL_MARKER in prompt:
            return Reply(label_reply(request))
        tasks = [{"instruction": f"Explain the role of gene {n} in the cardiomegaly pathway.", "input": "",
                  "output": f"Gene {n} does it."} for n in range(4, 9)]  # fmt: skip
        return Reply(json.dumps({"tasks": tasks}))

    server = openai_server(responder)
    builder = make_builder(tmp_path, server, json_mode=True, similarity_threshold=1.0)
    assert len(builder.build(3)) == 3
    assert all(
        r.get("response_format") for r in server.requests if LABEL_MARKER not in r["messages"][-1]["content"]
    )
    assert json.loads((tmp_path / "run.json").read_text())["teacher"]["json_mode_ignored"] is False


def test_an_unpriced_model_shows_its_cost_as_unpriced_not_zero(tmp_path, openai_server):
    assert cost_text(0.0, priced=False) == "unpriced" and cost_text(1.234, priced=True) == "$1.23"
    server = openai_server(ScriptedTeacher())
    builder = make_builder(tmp_path, server, teacher_model="/models/SmolLM2-135M-Instruct")
    builder.build(3)
    teacher = json.loads((tmp_path / "run.json").read_text())["teacher"]
    assert teacher["price_known"] is False and teacher["cost_usd"] == 0


def test_without_a_terminal_progress_prints_lines_before_the_first_row(tmp_path, openai_server, capsys):
    server = openai_server(lambda request: Reply(good_reply("slow", 4, 20), delay=2.5)
                           if LABEL_MARKER not in request["messages"][-1]["content"]
                           else Reply(label_reply(request)))  # fmt: skip
    builder = make_builder(
        tmp_path, server, progress=True, progress_interval=0.5, teacher_model="local-model"
    )
    builder.build(2)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("generate: ")]
    assert len(lines) >= 3, lines
    assert lines[0].startswith(
        "generate: 0/2 rows, requests 1 (1 in flight), candidates 0 (0 passed filters)"
    )
    assert "cost unpriced" in lines[0] and lines[-1].startswith("generate: 2/2 rows")
    clocks = [line.rsplit("elapsed ", 1)[1] for line in lines]
    assert clocks[0] != clocks[-2]  # the clock runs while no row has arrived


def test_on_a_terminal_the_bar_shows_requests_and_its_clock_runs_before_a_row():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    import asyncio

    stream = Terminal()
    progress = SessionProgress(0, 5, lambda: {"requests": "1 (1 in flight)"}, stream=stream)

    async def wait():
        progress.start_clock()
        await asyncio.sleep(2.3)
        await progress.close()

    asyncio.run(wait())
    frames = [frame for frame in stream.getvalue().split("\r") if "kept" in frame]
    assert any("requests=1 (1 in flight)" in frame for frame in frames)
    assert any("00:02" in frame for frame in frames) and "0/5" in frames[-1]


def test_sampling_and_limit_settings_are_checked_in_one_line(tmp_path):
    import pytest

    from bioinstruct.errors import ConfigError
    from bioinstruct.generation.builder import BioInstructBuilder

    with pytest.raises(ConfigError) as info:
        BioInstructBuilder(tmp_path, max_tokens=0, temperature=3.0, top_p=0.0, timeout=-1)
    message = str(info.value)
    for part in ("max_tokens=0", "timeout=-1", "temperature=3.0", "top_p=0.0", "temperature in [0, 2]"):
        assert part in message
    assert "\n" not in message and not tmp_path.joinpath("run.json").exists()


def test_every_request_carries_a_reproducible_seed(tmp_path, openai_server):
    """transformers serve and vLLM honour ``seed``: a rerun with the same --seed sends the same
    seeds (and so gets the same sampled replies); no two requests of a run share one."""
    seeds = []
    for name, overrides in (("a", {}), ("b", {}), ("c", {"seed": 1}), ("off", {"request_seeds": False})):
        server = openai_server(ScriptedTeacher())
        make_builder(tmp_path / name, server, **overrides).build(20)
        seeds.append([request.get("seed") for request in server.requests])
    first, again, other_seed, off = seeds
    assert len(first) >= 2 and all(isinstance(seed, int) for seed in first)
    assert len(set(first)) == len(first) and first == again
    assert not set(first) & set(other_seed)
    assert off == [None] * len(off)
    run = json.loads((tmp_path / "off" / "run.json").read_text())
    assert run["config"]["request_seeds"] is False
