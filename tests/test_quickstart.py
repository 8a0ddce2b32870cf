"""`bioinstruct quickstart` end to end: data, decontamination, training, evaluation, report and cards.

Run as a subprocess, as a user runs it: the README's command is the contract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.generation.builder_fakes import ScriptedTeacher

pytestmark = pytest.mark.slow


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


def test_quickstart_rejects_a_mistyped_benchmark_before_any_work(tmp_path):
    proc = _quickstart(["--output-dir", str(tmp_path / "qs"), "--data-file", "medqaa=x.jsonl"], {}, tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'medqa'" in proc.stderr
    assert not (tmp_path / "qs").exists()
