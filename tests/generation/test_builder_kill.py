"""SIGKILL a real `bioinstruct generate` process mid-run, twice, then resume: exactly N unique rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.generation.builder_fakes import ScriptedTeacher

TARGET = 80


def _start(folder: Path, base_url: str) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": "local-test-key"}
    command = [
        sys.executable, "-m", "bioinstruct.cli", "generate",
        "--output-dir", str(folder), "--num-instructions", str(TARGET), "--teacher-model", "gpt-4",
        "--base-url", base_url, "--max-concurrency", "3", "--no-progress",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_when(process: subprocess.Popen, path: Path, lines: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _lines(path) < lines:
        assert process.poll() is None, process.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, f"{path} never reached {lines} lines"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
def test_sigkill_twice_then_resume_gives_exactly_n_unique_rows(tmp_path, openai_server):
    server = openai_server(ScriptedTeacher(delay=0.15, items=(4, 12)))
    folder = tmp_path / "run"

    _kill_when(_start(folder, server.base_url), folder / "instructions.jsonl", 12)
    _kill_when(
        _start(folder, server.base_url), folder / "journal.jsonl", _lines(folder / "journal.jsonl") + 40
    )

    final = _start(folder, server.base_url)
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()[-2000:]
    assert json.loads(out.decode().strip().splitlines()[-1])["rows"] == TARGET

    rows = [json.loads(line) for line in (folder / "instructions.jsonl").read_text().splitlines()]
    journal = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
    assert len(rows) == TARGET
    assert len({row["id"] for row in rows}) == TARGET
    assert len({row["instruction"] for row in rows}) == TARGET
    kept = {e["id"] for e in journal if e["event"] == "candidate" and e["decision"] == "kept"}
    accepted = [e["id"] for e in journal if e["event"] == "accepted"]
    assert {row["id"] for row in rows} <= kept
    assert len(accepted) == len(set(accepted))  # a row is never accepted twice
    request_ids = [e["request_id"] for e in journal if e["event"] == "request"]
    assert len(request_ids) == len(set(request_ids))  # request ids (and their seeds) never reused
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "complete" and run["counters"]["kept"] == TARGET
    teacher = run["teacher"]  # requests in flight at each kill -9 are counted as lost, not nowhere
    assert teacher["lost"] >= 1 and teacher["in_flight"] == 0
    assert teacher["requests"] == sum(teacher[key] for key in ("succeeded", "failed", "cancelled", "lost"))


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_the_run_resumes(tmp_path, openai_server):
    server = openai_server(ScriptedTeacher(delay=0.15, items=(4, 12)))
    folder = tmp_path / "run"
    process = _start(folder, server.base_url)
    deadline = time.monotonic() + 120
    while _lines(folder / "instructions.jsonl") < 10:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()[-2000:]
    assert "interrupted; rerun the same command to resume" in err.decode()
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "interrupted"
    teacher = run["teacher"]
    assert teacher["in_flight"] == 0  # every request was answered or cancelled before run.json was written
    assert teacher["requests"] == teacher["succeeded"] + teacher["failed"] + teacher["cancelled"]

    final = _start(folder, server.base_url)
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()[-2000:]
    assert len((folder / "instructions.jsonl").read_text().splitlines()) == TARGET
