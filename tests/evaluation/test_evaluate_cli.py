"""`bioinstruct benchmarks` and `bioinstruct evaluate`: tables, one-line errors, a real tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioinstruct.cli import main


def test_benchmarks_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmarks"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "groups", "metric", "source", "local", "data?"]
    medqa = next(line for line in out if line.startswith("medqa "))
    assert medqa.split()[1:4] == ["qa,paper,leaderboard", "accuracy", "GBaker/MedQA-USMLE-4-options"]
    assert next(line for line in out if line.startswith("bioasq ")).endswith("required")
    assert main(["benchmarks", "--group", "nli"]) == 0
    assert "mednli" in capsys.readouterr().out
    assert main(["benchmarks", "--group", "nope"]) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--benchmarks", "medq"], "unknown benchmark 'medq'; did you mean 'medqa'"),
        (["--benchmarks", "mednli"], "needs local data: MedNLI is credentialed data"),
        (
            ["--benchmarks", "medqa", "--data-file", "medqa=/no/such/file.jsonl"],
            "data file '/no/such/file.jsonl' not found",
        ),
        (["--benchmarks", "medqa", "--data-file", "medqa"], "--data-file expects NAME=PATH"),
        (["--benchmarks", "medqa", "--template", "fancy"], "unknown prompt template 'fancy'"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["evaluate", "--model", str(tmp_path / "never-loaded"), "--output-dir", str(tmp_path), *extra]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("bioinstruct: error: ") and message in err and "\n" not in err


def test_bad_file_schema_is_one_line(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "evaluate",
            "--model",
            str(tmp_path / "m"),
            "--benchmarks",
            "medqa",
            "--data-file",
            f"medqa={fixtures_dir / 'pubmedqa.jsonl'}",
            "--output-dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "does not match the expected schema (KeyError: 'options')" in err


def test_folder_as_data_file_is_one_line(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["evaluate", "--model", str(tmp_path / "m"), "--benchmarks", "medqa"]
        + ["--data-file", f"medqa={fixtures_dir}", "--output-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("bioinstruct: error: ") and "cannot read data file" in err
    assert "\n" not in err


def test_evaluate_tiny_model_writes_results(
    tiny_model_dir: Path, fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    argv = [
        "evaluate",
        "--model",
        str(tiny_model_dir),
        "--benchmarks",
        "medqa,pubmedqa",
        "--limit",
        "3",
        "--data-file",
        f"medqa={fixtures_dir / 'medqa.jsonl'}",
        "--data-file",
        f"pubmedqa={fixtures_dir / 'pubmedqa.jsonl'}",
        "--template",
        "plain",
        "--device",
        "cpu",
        "--output-dir",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"| benchmark | metric | {tiny_model_dir.name} |")
    data = json.loads((out / "results.json").read_text())
    assert [r["benchmark"] for r in data["results"]] == ["medqa", "pubmedqa"]
    assert all(r["n"] == 3 and r["protocol"]["protocol"] == "loglikelihood" for r in data["results"])
    assert len((out / "samples" / "medqa.jsonl").read_text().splitlines()) == 3
    assert list((out / "cache").glob("*.jsonl"))


def test_vllm_backend_without_vllm_says_how_to_install(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    code = main(
        [
            "evaluate",
            "--model",
            str(tmp_path / "m"),
            "--backend",
            "vllm",
            "--benchmarks",
            "medqa",
            "--data-file",
            f"medqa={fixtures_dir / 'medqa.jsonl'}",
            "--output-dir",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "pip install vllm" in err and "--backend hf" in err


def test_judge_without_a_named_endpoint_refuses_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the judge sent benchmark text to api.openai.com although nobody named it."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-NEVERSHOWN123")
    argv = ["evaluate", "--model", str(tmp_path / "never-loaded"), "--benchmarks", "meqsum"]
    code = main([*argv, "--judge-model", "gpt-4", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "would send benchmark items and predictions to https://api.openai.com/v1" in err
    assert "--judge-base-url" in err and "sk-test-NEVERSHOWN123" not in err


def test_the_judge_of_the_evaluate_cli_is_capped_by_max_cost_usd(
    tiny_model_dir: Path, fixtures_dir: Path, tmp_path: Path, openai_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: `--judge-model gpt-4` ran without any dollar cap although the README said it had one."""
    from bioinstruct.testing.openai_server import Reply

    server = openai_server(lambda request: Reply('{"coherence": 4, "completeness": 3, "naturalness": 5}'))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge-cap-0123456789")
    out = tmp_path / "eval"
    argv = ["evaluate", "--model", str(tiny_model_dir), "--benchmarks", "meqsum", "--limit", "4"]
    meqsum = f"meqsum={fixtures_dir / 'meqsum.jsonl'}"
    argv += ["--data-file", meqsum, "--fewshot-file", meqsum, "--device", "cpu", "--output-dir", str(out)]
    # gpt-4 is priced: the client reserves $0.045 per judge request, so one fits under $0.05 and two do not.
    argv += ["--judge-model", "gpt-4", "--judge-base-url", server.base_url, "--judge-max-cost-usd", "0.05"]
    assert main(argv) == 0
    [result] = json.loads((out / "results.json").read_text())["results"]
    judged = len(server.requests)
    assert 1 <= judged < 4, result["protocol"]
    judge = result["protocol"]["judge"]
    assert judge["judge_unscored"] == 4 - judged and judge["judge_items"] == 4
    assert result["protocol"]["judge"]["judge_cost_usd"] <= 0.05
