"""`bioinstruct evaluate --config run.yaml`: the YAML under the flags, and the evaluate.yaml each run
writes (the BERTScore model included), which reruns it and never holds a key."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import yaml

from bioinstruct.cli import main
from bioinstruct.commands.evaluate import BERTSCORE_MODEL_ENV
from bioinstruct.config_files import parse_config
from bioinstruct.evaluation.config import EvaluateConfig

KEY = "sk-test-EVALCONFIG-0123456789abcdef"
PROG = "bioinstruct evaluate"


def _parse(argv: list[str]) -> EvaluateConfig:
    return parse_config(EvaluateConfig, argv, PROG)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _tiny_run(tiny_model_dir: Path, fixtures_dir: Path, out: Path) -> list[str]:
    return ["--model", str(tiny_model_dir), "--benchmarks", "medqa", "--limit", "2", "--template", "plain",
            "--data-file", f"medqa={fixtures_dir / 'medqa.jsonl'}", "--device", "cpu", "--output-dir", str(out)]  # fmt: skip


def test_flags_override_the_yaml(tmp_path):
    recipe = _write(
        tmp_path / "eval.yaml",
        "model: base\nbenchmarks: qa\nadapter: [runs/a, other=runs/b]\nbackend: openai\nlimit: 10\n"
        "bertscore_model: roberta-large\ntimeout: 300\nno_cache: true\n",
    )
    from_file = _parse(["--config", str(recipe)])
    assert (from_file.model, from_file.benchmarks, from_file.backend) == ("base", "qa", "openai")
    assert from_file.adapter == ["runs/a", "other=runs/b"] and from_file.limit == 10
    assert from_file.timeout == 300.0 and from_file.no_cache
    assert from_file.bertscore_model == "roberta-large" and from_file.output_dir == "runs/eval"

    config = _parse(["--adapter", "runs/c", "--config", str(recipe), "--backend", "hf", "--no-cache", "false",
                     "--bertscore-model", "local/bert"])  # fmt: skip
    assert (config.backend, config.no_cache, config.bertscore_model) == ("hf", False, "local/bert")
    assert config.adapter == ["runs/c"] and config.limit == 10  # the flag's list replaces the file's


def test_the_written_evaluate_yaml_reruns_the_same_configuration(
    tiny_model_dir, fixtures_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(BERTSCORE_MODEL_ENV, "/models/roberta-large")  # recorded, though medqa never uses it
    out = tmp_path / "eval"
    flags = _tiny_run(tiny_model_dir, fixtures_dir, out)
    assert main(["evaluate", *flags]) == 0
    written = out / "evaluate.yaml"
    text = written.read_text()
    assert f"bioinstruct evaluate --config {written}" in text
    recorded = _parse(["--config", str(written)])
    assert recorded == _parse([*flags, "--bertscore-model", "/models/roberta-large"])
    assert yaml.safe_load(text)["bertscore_model"] == "/models/roberta-large"
    first = json.loads((out / "results.json").read_text())["results"]

    # The file alone reruns it (from the prediction cache), with the BERTScore model set from the file.
    monkeypatch.setenv(BERTSCORE_MODEL_ENV, "")
    capsys.readouterr()
    assert main(["evaluate", "--config", str(written)]) == 0
    assert (
        os.environ[BERTSCORE_MODEL_ENV] == ""
    )  # the file's setting reaches the evaluator, not the environment
    assert written.read_text() == text
    again = json.loads((out / "results.json").read_text())["results"]
    assert [r["metrics"] for r in again] == [r["metrics"] for r in first]


def test_no_secret_reaches_evaluate_yaml(tiny_model_dir, fixtures_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv(BERTSCORE_MODEL_ENV, "")
    out = tmp_path / "eval"
    argv = ["evaluate", *_tiny_run(tiny_model_dir, fixtures_dir, out),
            "--base-url", f"https://user:{KEY}@example.org/v1", "--judge-base-url", f"https://judge:{KEY}@example.org/v1"]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    text = (out / "evaluate.yaml").read_text()
    assert KEY not in text and "user:" not in text and "judge:" not in text
    recorded = yaml.safe_load(text)
    assert recorded["base_url"] == recorded["judge_base_url"] == "https://example.org/v1"
    assert "base_url holds credentials" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("model: m\nbenchmark: medqa\n", ["unknown key 'benchmark' in", "(line 2)", "did you mean 'benchmarks'?"]),
        ("model: m\nbenchmarks: medqa\nbackend: hff\n",
         ["eval.yaml:3: backend: 'hff' is not one of hf, openai, vllm", "did you mean 'hf'?"]),
        ("model: m\nbenchmarks: medqa\nlimit: ten\n", ["eval.yaml:3: limit: 'ten' is not an integer"]),
        ("model: m\nbenchmarks: medqa\nopenai_api_key: sk-abc\n", ["credentials are never read from a file"]),
        ("benchmarks: medqa\n", ["the following arguments are required: --model"]),
    ],
    ids=["typo", "bad-choice", "bad-int", "secret-key", "missing-required"],
)  # fmt: skip
def test_a_config_file_mistake_is_one_line_and_exit_2(text, phrases, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    recipe = _write(tmp_path / "eval.yaml", text)
    assert main(["evaluate", "--config", str(recipe), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)
    assert not (tmp_path / "out").exists()


def test_a_failed_run_leaves_no_evaluate_yaml(tmp_path, capsys):
    out = tmp_path / "new" / "eval"
    assert (
        main(["evaluate", "--model", str(tmp_path / "m"), "--benchmarks", "medqaa", "--output-dir", str(out)])
        == 2
    )
    assert "did you mean 'medqa'" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "old"
    existing.mkdir()
    _write(existing / "evaluate.yaml", "model: before\nbenchmarks: medqa\n")
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "m"),
                "--benchmarks",
                "medqaa",
                "--output-dir",
                str(existing),
            ]
        )
        == 2
    )
    assert (existing / "evaluate.yaml").read_text() == "model: before\nbenchmarks: medqa\n"


def test_the_dataclass_is_one_hf_argument_parser_reads_too(tmp_path):
    transformers = pytest.importorskip("transformers")
    written = _write(
        tmp_path / "evaluate.yaml", "model: m\nbenchmarks: qa\nadapter: [a, b]\nno_cache: true\n"
    )
    (from_hf,) = transformers.HfArgumentParser(EvaluateConfig).parse_yaml_file(str(written))
    assert from_hf == _parse(["--config", str(written)])


def test_vllm_tensor_parallel_size_reaches_the_engine_and_is_checked():
    """--tensor-parallel-size is passed to vllm.LLM by the vllm backend's options; 0 is one line."""
    from bioinstruct.errors import ConfigError
    from bioinstruct.evaluation.configured import backend_options

    config = EvaluateConfig(model="m", benchmarks="medqa", backend="vllm", tensor_parallel_size=4)
    assert backend_options(config) == {"dtype": "auto", "tensor_parallel_size": 4}
    with pytest.raises(ConfigError, match="tensor_parallel_size=0 must be at least 1"):
        EvaluateConfig(model="m", benchmarks="medqa", backend="vllm", tensor_parallel_size=0)
