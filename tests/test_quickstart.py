"""`bioinstruct quickstart` end to end: data, decontamination, training, evaluation, report and cards.

Run as a subprocess, as a user runs it: the README's command is the contract.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bioinstruct import quickstart, quickstart_outputs
from bioinstruct.cli import main
from bioinstruct.errors import ConfigError
from tests.generation.builder_fakes import ScriptedTeacher


def _quickstart(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HF_TOKEN")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "bioinstruct.cli", "quickstart", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


@pytest.mark.slow
def test_quickstart_with_a_teacher_endpoint_and_local_qa_data(tmp_path, samples_dir, openai_server):
    server = openai_server(ScriptedTeacher())
    out = tmp_path / "qs"
    secret = "sk-quickstart-secret-0123456789"
    proc = _quickstart(
        [
            "--output-dir",
            str(out),
            "--base-url",
            server.base_url,
            "--num-instructions",
            "30",
            "--steps",
            "4",
            "--heldout",
            "4",
            "--qa-limit",
            "12",
            "--data-file",
            f"medqa={samples_dir / 'medqa.jsonl'}",
        ],
        {"OPENAI_API_KEY": secret, "HF_TOKEN": "hf_quickstart_secret_token"},
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout
    # every step says what it does and how to run it at full scale
    for number in range(1, 6):
        assert f"[{number}/5]" in log
    assert "--num-instructions 25005" in log
    assert "--num_processes 8" in log and "accelerate launch" in log
    assert "decontamination:" in log

    # data: generated through the endpoint, checked, split
    assert len((out / "generate" / "instructions.jsonl").read_text().splitlines()) >= 30
    train = (out / "data" / "train.jsonl").read_text().splitlines()
    heldout = (out / "data" / "heldout.jsonl").read_text().splitlines()
    assert len(heldout) == 4 and len(train) == 26
    decon = json.loads((out / "data" / "decontamination.json").read_text())
    assert decon["rows_checked"] == 30 and "medqa" in decon["benchmarks"]

    # evaluation: base and adapter on held-out instructions and MedQA
    results = json.loads((out / "eval" / "results.json").read_text())["results"]
    cells = {(r["benchmark"], r["adapter"] is not None) for r in results}
    assert cells == {("instructions", False), ("instructions", True), ("medqa", False), ("medqa", True)}
    assert all(r["n"] == (4 if r["benchmark"] == "instructions" else 12) for r in results)
    scoring = {r["benchmark"]: r["protocol"]["scoring"] for r in results}
    assert scoring["instructions"].startswith(
        "greedy generation (up to 128 new tokens) scored against the reference"
    )
    assert "parsed to a choice" not in scoring["instructions"] and "log-probability" in scoring["medqa"]

    # report: table, chart, and the exact folders `push --dry-run` writes, with valid cards
    report = out / "report"
    assert (report / "results.png").stat().st_size > 1000
    summary = (report / "README.md").read_text()
    assert "| instructions | rougeL |" in summary and "| medqa | accuracy |" in summary
    model_card = (report / "hub" / "adapter" / "README.md").read_text()
    meta = _front_matter(model_card)
    assert meta["library_name"] == "peft"
    entries = meta["model-index"][0]["results"]
    assert {(e["dataset"]["name"], e["metrics"][0]["type"]) for e in entries} == {
        ("instructions", "rouge"),
        ("medqa", "accuracy"),
    }
    medqa_adapter = next(r for r in results if r["benchmark"] == "medqa" and r["adapter"])
    medqa_entry = next(e for e in entries if e["dataset"]["name"] == "medqa")["metrics"][0]
    assert medqa_entry["value"] == pytest.approx(100 * medqa_adapter["metrics"]["accuracy"], abs=0.005)
    assert medqa_entry["config"] == "loglikelihood-0shot-bioinstruct"
    assert (report / "hub" / "adapter" / "images" / "loss_curve.png").stat().st_size > 1000
    assert (report / "hub" / "adapter" / "recipe.yaml").is_file()
    assert (report / "hub" / "adapter" / "adapter_model.safetensors").is_file()
    dataset_card = (report / "hub" / "dataset" / "README.md").read_text()
    assert _front_matter(dataset_card)["pretty_name"]
    assert "| medqa | 133 | 0 | 0 | 0 | local file medqa.jsonl |" in dataset_card  # decontamination
    assert (report / "hub" / "dataset" / "images" / "category_mix.png").stat().st_size > 1000
    assert len((report / "hub" / "dataset" / "data" / "train.jsonl").read_text().splitlines()) == 30
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".jsonl", ".yaml", ".txt"):
            text = path.read_text(errors="replace")
            assert secret not in text and "hf_quickstart_secret_token" not in text, path
    assert secret not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_quickstart_without_an_endpoint_uses_the_seed_tasks(tmp_path):
    out = tmp_path / "qs"
    proc = _quickstart(
        ["--output-dir", str(out), "--steps", "2", "--heldout", "3"],
        {},
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "no teacher endpoint" in proc.stdout and "80 bundled seed tasks" in proc.stdout
    assert "no QA test data here" in proc.stdout
    assert len((out / "data" / "train.jsonl").read_text().splitlines()) == 77
    assert not (out / "generate").exists()
    results = json.loads((out / "eval" / "results.json").read_text())
    assert {r["benchmark"] for r in results["results"]} == {"instructions"}
    assert set(results["skipped"]) >= {"medqa", "bioasq"}
    assert (out / "report" / "hub" / "adapter" / "README.md").is_file()
    assert not (out / "report" / "hub" / "dataset").exists()
    assert "bundled seed tasks" in (out / "report" / "README.md").read_text()


@pytest.mark.slow
def test_quickstart_rejects_a_mistyped_benchmark_before_any_work(tmp_path):
    proc = _quickstart(["--output-dir", str(tmp_path / "qs"), "--data-file", "medqaa=x.jsonl"], {}, tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'medqa'" in proc.stderr
    assert not (tmp_path / "qs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--heldout", "80"], "--heldout 80 leaves no training rows from the 80 bundled seed tasks"),
        (["--heldout", "40", "--base-url", "http://127.0.0.1:9/v1"], "from --num-instructions 40"),
        (["--model", "/no/such/model"], "--model '/no/such/model': no such model folder"),
        (["--data-file", "ncbi_disease=x.jsonl"], "the quickstart evaluates the QA benchmarks (medqa,"),
    ],
    ids=["heldout-of-seeds", "heldout-of-generated", "missing-model", "non-qa-data-file"],
)
def test_quickstart_refuses_impossible_settings_before_any_work(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "qs"
    assert main(["quickstart", "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists(), "nothing generated or written (no teacher dollar spent) before the error"
    (tmp_path / "file").write_text("x")
    assert main(["quickstart", "--output-dir", str(tmp_path / "file"), *args]) == 2
    assert "--output-dir" in capsys.readouterr().err


def test_quickstart_never_shows_credentials_of_the_endpoint_url(tmp_path, openai_server, capsys, caplog):
    server = openai_server(ScriptedTeacher())
    url = server.base_url.replace("http://", "http://alice:sk-url-secret-123456789@")
    args = argparse.Namespace(
        base_url=url, teacher_model="local-teacher", num_instructions=6, max_cost_usd=1.0, heldout=2
    )
    with caplog.at_level(logging.DEBUG):
        rows, _ = quickstart._data_step(args, tmp_path, {})
    assert len(rows) >= 6
    shown = capsys.readouterr().out + caplog.text
    assert server.base_url in shown, "the endpoint is named, without its credentials"
    assert "sk-url-secret" not in shown and "alice" not in shown


def test_generation_decontaminates_against_cached_hub_sets_and_local_files(
    tmp_path, openai_server, samples_dir, monkeypatch
):
    """A QA set found in the Hugging Face cache has no data file: the builder must load it from the cache."""
    from bioinstruct.evaluation import registry
    from bioinstruct.jsonio import read_records

    cached = read_records(samples_dir / "pubmedqa.jsonl")
    monkeypatch.setattr(registry, "load_hub_rows", lambda source, name, fewshot=False: cached)
    server = openai_server(ScriptedTeacher())
    args = argparse.Namespace(
        base_url=server.base_url,
        teacher_model="local-teacher",
        num_instructions=6,
        max_cost_usd=1.0,
        heldout=2,
    )
    qa_files = {"medqa": str(samples_dir / "medqa.jsonl"), "pubmedqa": ""}
    rows, generation_dir = quickstart._data_step(args, tmp_path, qa_files)
    report = json.loads((generation_dir / "run.json").read_text())["decontamination"]
    assert len(rows) == 6 and report["action"] == "reject"
    assert report["benchmarks"]["pubmedqa"]["test_items"] == len(cached)
    assert report["benchmarks"]["medqa"]["source"].endswith("medqa.jsonl")


def _finish(adapter, steps):
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    (adapter / "trainer_state.json").write_text(json.dumps({"global_step": steps}))


def test_a_rerun_reuses_redoes_or_resumes_the_adapter_and_never_deletes_a_foreign_folder(tmp_path):
    adapter = tmp_path / "adapter"
    record = {"model": "tiny-llama", "steps": 4, "train_sha256": "abc"}
    assert quickstart_outputs.reuse_adapter(adapter, record) is False and adapter.is_dir()
    (adapter / "checkpoint-2").mkdir()
    assert quickstart_outputs.reuse_adapter(adapter, record) is False, "interrupted: train again..."
    assert (adapter / "checkpoint-2").is_dir(), "...resuming from its checkpoints"
    _finish(adapter, 4)
    assert quickstart_outputs.reuse_adapter(adapter, record) is True, (
        "finished with the same settings: reused"
    )
    assert quickstart_outputs.reuse_adapter(adapter, {**record, "steps": 5}) is False
    assert sorted(p.name for p in adapter.iterdir()) == [quickstart_outputs.TRAINING_RECORD], (
        "other steps: start over"
    )
    _finish(adapter, 5)
    assert (
        quickstart_outputs.reuse_adapter(adapter, {**record, "steps": 5, "train_sha256": "other data"})
        is False
    )
    assert not (adapter / "adapter_model.safetensors").exists()

    foreign = tmp_path / "runs" / "adapter"
    foreign.mkdir(parents=True)
    (foreign / "adapter_model.safetensors").write_bytes(b"a week of GPU time")
    with pytest.raises(ConfigError, match="holds files the quickstart did not write"):
        quickstart_outputs.reuse_adapter(foreign, record)
    assert (foreign / "adapter_model.safetensors").is_file()


def test_a_training_failure_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(
        ["quickstart", "--output-dir", str(tmp_path / "qs"), "--model", "no-such-model-here", "--steps", "1"]
    )
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("bioinstruct: error")]
    assert len(err) == 1 and "no-such-model-here" in err[0], err


def test_a_rerun_without_a_teacher_removes_the_earlier_dataset_card(tmp_path):
    from tests.cards.fixtures import make_adapter, write_results

    adapter = make_adapter(tmp_path / "adapter")
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    write_results(eval_dir / "results.json", adapter)
    (eval_dir / "results.md").write_text("| benchmark |\n")
    earlier = tmp_path / "report" / "hub" / "dataset"
    (earlier / "data").mkdir(parents=True)
    (earlier / "data" / "train.jsonl").write_text('{"instruction": "x"}\n')
    (earlier / "README.md").write_text("---\ntags:\n- bioinstruct\n---\n# an earlier run's rows\n")
    report = quickstart._report_step(tmp_path, eval_dir, adapter, None, None)
    assert not earlier.exists(), "a card of rows this run did not train on is not left to be uploaded"
    assert "No dataset card" in (report / "README.md").read_text()
    assert (report / "hub" / "adapter" / "README.md").is_file()
