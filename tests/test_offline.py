"""The one quick Hub check (bioinstruct.offline) and what every stage does with it: offline, a group
runs what it has and lists the rest, a named benchmark fails in one line, and nothing retries."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import datasets.config
import huggingface_hub.constants
import pytest

from bioinstruct import offline
from bioinstruct.benchmarks import select
from bioinstruct.errors import ConfigError, DataError
from tests.conftest import FIXTURES_DIR, REPO_ROOT


@pytest.fixture
def fresh_probe(monkeypatch):
    """No offline variable, no proxy, and no cached probe answer; restored afterwards."""
    for name in (
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HTTPS_PROXY",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(offline, "_PROBED", {})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_environment_decides_without_any_traffic(monkeypatch, fresh_probe):
    monkeypatch.setattr(offline, "probe", lambda *a, **k: pytest.fail("probed despite the environment"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline.hub_reachable() is False and offline.ensure_offline_mode_if_unreachable() is True
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert offline.hub_reachable() is True and offline.ensure_offline_mode_if_unreachable() is False
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")  # any "offline" wins over HF_HUB_OFFLINE=0
    assert offline.hub_reachable() is False


def test_an_unreachable_endpoint_switches_the_libraries_offline_once(monkeypatch, fresh_probe, caplog):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    with caplog.at_level(logging.INFO, logger="bioinstruct.offline"):
        assert offline.ensure_offline_mode_if_unreachable(timeout=2) is True
        assert offline.ensure_offline_mode_if_unreachable(timeout=2) is True
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["HF_DATASETS_OFFLINE"] == "1"
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "not reachable (127.0.0.1:" in lines[0] and "HF_HUB_OFFLINE=0" in lines[0]


def test_a_listening_endpoint_or_proxy_is_reachable(monkeypatch, fresh_probe):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert offline.hub_reachable() is True
        monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")  # the proxy is what is probed
        assert offline.probe_target() == ("127.0.0.1", port) and offline.hub_reachable() is True


def test_the_probe_is_bounded_by_its_timeout_even_if_connect_hangs(monkeypatch, fresh_probe):
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(10)
        raise OSError("gave up")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert offline.probe("hub.invalid", 443, timeout=0.5) == (False, "no answer within 0.5 s")
    assert time.monotonic() - start < 3
    release.set()


def test_offline_state_is_intact_after_the_probe_tests():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True


def test_a_group_runs_what_loads_and_lists_the_rest_with_the_reason():
    # conftest sets HF_HUB_OFFLINE=1; the Hub splits of medmcqa/pubmedqa are not in the test cache.
    loaded, skipped = select("qa", {"medqa": FIXTURES_DIR / "medqa.jsonl"})
    assert [entry.benchmark.name for entry in loaded] == ["medqa"] and loaded[0].explicit is False
    assert list(skipped) == ["medmcqa", "pubmedqa", "bioasq"]
    assert skipped["medmcqa"] == (
        "openlifescienceai/medmcqa [validation] is not in the Hugging Face cache and the Hub is offline; "
        "pass --data-file medmcqa=PATH"
    )
    assert skipped["bioasq"].startswith("needs local data: BioASQ")
    with pytest.raises(DataError, match=r"benchmark 'medmcqa': could not load openlifescienceai/medmcqa"):
        select("qa,medmcqa", {"medqa": FIXTURES_DIR / "medqa.jsonl"})  # named: must load
    with pytest.raises(ConfigError, match=r"nothing to run in nli \(mednli: needs local data"):
        select("nli")
    with pytest.raises(ConfigError, match=r"given for an unknown benchmark 'medqq'; did you mean 'medqa'"):
        select("qa", {"medqq": FIXTURES_DIR / "medqa.jsonl"})


def test_evaluate_on_a_group_records_the_skipped_members(tmp_path):
    from bioinstruct.evaluation.evaluator import Evaluator
    from tests.evaluation.test_evaluator import ScriptedBackend

    backend = ScriptedBackend(lambda context, conts: [0.0] * len(conts))
    files = {"medqa": str(FIXTURES_DIR / "medqa.jsonl"), "meqsum": str(FIXTURES_DIR / "meqsum.jsonl")}
    results = Evaluator("m", backend=backend, progress=False).run("qa,gen", limit=2, data_files=files)
    assert results.benchmarks == ["medqa"]  # meqsum's 1-shot demonstrations are a Hub split: offline
    assert "no few-shot demonstrations here: bigbio/meqsum" in results.skipped["meqsum"]
    assert "--num-fewshot 0" in results.skipped["meqsum"]
    assert {"medmcqa", "pubmedqa", "bioasq"} <= set(results.skipped)
    saved = json.loads((results.save(tmp_path) / "results.json").read_text())
    assert saved["skipped"] == results.skipped
    assert (
        "- **medmcqa**: skipped (openlifescienceai/medmcqa [validation] is not in the"
        in results.to_markdown()
    )


def _cli(argv: list[str], tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    """`bioinstruct ...` in a fresh process WITHOUT HF_HUB_OFFLINE, the Hub at a closed local port."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "hf-home"))
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bioinstruct.cli", *argv],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return proc, time.monotonic() - start


@pytest.mark.slow
def test_offline_cli_answers_in_seconds_without_retries(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": "Define anemia.", "input": "", "output": "Low Hb."}) + "\n")
    medqa = f"medqa={FIXTURES_DIR / 'medqa.jsonl'}"
    proc, seconds = _cli(
        ["decontaminate", str(data), "--benchmarks", "qa", "--data-file", medqa, "--no-progress"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        "skipped medmcqa: openlifescienceai/medmcqa [validation] is not in the Hugging Face cache"
        in proc.stdout
    )
    assert "Retry" not in proc.stdout + proc.stderr and seconds < 60  # was 55 s of retries before
    proc, seconds = _cli(
        ["evaluate", "--model", str(tmp_path), "--benchmarks", "medqa", "--output-dir", str(tmp_path / "ev")],
        tmp_path,
    )
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Retry" not in proc.stderr and seconds < 60, proc.stderr[-2000:]
    assert err[-1].startswith(
        "bioinstruct: error: benchmark 'medqa': could not load GBaker/MedQA-USMLE-4-options"
    )
    assert len(err) <= 2  # the error, and at most the one "not reachable; working offline" line


def test_every_stage_checks_the_hub_first_but_help_does_not(monkeypatch, capsys):
    from bioinstruct.cli import main

    calls: list[int] = []
    monkeypatch.setattr(
        offline, "ensure_offline_mode_if_unreachable", lambda *a, **k: calls.append(1) or True
    )
    assert main(["benchmarks"]) == 0 and calls == [1]
    with pytest.raises(SystemExit):
        main(["benchmarks", "--help"])
    assert calls == [1]
    capsys.readouterr()
