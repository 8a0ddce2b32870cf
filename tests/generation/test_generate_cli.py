"""`bioinstruct generate` end to end against the local server, in-process."""

from __future__ import annotations

import json

from bioinstruct.cli import main
from bioinstruct.testing.openai_server import Reply
from tests.generation.builder_fakes import ScriptedTeacher

KEY = "sk-cli-SECRET-0987654321"


def test_generate_writes_rows_and_alpaca_export(tmp_path, openai_server, monkeypatch, capsys):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out_dir, alpaca = tmp_path / "run", tmp_path / "alpaca.json"
    argv = ["generate", "--output-dir", str(out_dir), "--num-instructions", "12", "--teacher-model", "gpt-4o-mini",
            "--base-url", server.base_url, "--max-concurrency", "2", "--requests-per-minute", "600",
            "--tokens-per-minute", "2000000", "--max-cost-usd", "5", "--seed", "3", "--no-progress",
            "--export-alpaca", str(alpaca)]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"rows": 12, "target": 12, "stop_reason": "complete", "output_dir": str(out_dir)}
    run = json.loads((out_dir / "run.json").read_text())
    assert run["config"]["teacher_model"] == "gpt-4o-mini" and run["config"]["seed"] == 3
    assert run["config"]["max_cost_usd"] == 5 and run["config"]["requests_per_minute"] == 600
    exported = json.loads(alpaca.read_text())
    assert len(exported) == 12 and all(set(item) == {"instruction", "input", "output"} for item in exported)
    for path in [*out_dir.rglob("*"), alpaca]:
        if path.is_file():
            assert KEY not in path.read_text()


def test_missing_key_is_one_clear_line(tmp_path, capsys):
    code = main(["generate", "--output-dir", str(tmp_path / "r"), "--num-instructions", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "OPENAI_API_KEY" in err and err.count("\n") == 1


def test_rejected_key_exits_2_without_printing_it(tmp_path, openai_server, monkeypatch, capsys):
    server = openai_server(lambda request: Reply("Incorrect API key provided: sk-cli-***", status=401))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code = main(["generate", "--output-dir", str(tmp_path / "r"), "--num-instructions", "5",
                 "--base-url", server.base_url, "--no-progress"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2 and "401" in captured.err and KEY not in captured.err + captured.out


def test_budget_stop_exits_1_and_says_how_to_resume(tmp_path, openai_server, monkeypatch, capsys, caplog):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    code = main(["generate", "--output-dir", str(tmp_path / "r"), "--num-instructions", "400",
                 "--base-url", server.base_url, "--max-cost-usd", "0.3", "--no-progress"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and summary["stop_reason"] == "budget" and summary["rows"] < 400
    assert "rerun" in caplog.text


def test_help_lists_every_flag(capsys):
    try:
        main(["generate", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    text = capsys.readouterr().out
    for flag in ("--output-dir", "--num-instructions", "--teacher-model", "--base-url", "--max-concurrency",
                 "--requests-per-minute", "--tokens-per-minute", "--max-cost-usd", "--seed", "--seed-tasks",
                 "--batch-api"):  # fmt: skip
        assert flag in text


def test_bad_export_path_fails_before_any_request(tmp_path, openai_server, monkeypatch, capsys):
    teacher = ScriptedTeacher()
    server = openai_server(teacher)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    (tmp_path / "folder").mkdir()
    base = ["generate", "--output-dir", str(tmp_path / "r"), "--num-instructions", "5", "--base-url", server.base_url,
            "--no-progress"]  # fmt: skip
    assert main([*base, "--export-alpaca", str(tmp_path / "folder")]) == 2
    (tmp_path / "file").write_text("x")
    assert main([*base, "--export-alpaca", str(tmp_path / "file" / "a.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("bioinstruct: error: --export-alpaca") == 2 and "Traceback" not in err
    assert teacher.generation_calls == 0


def test_output_dir_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    (tmp_path / "taken").write_text("x")
    code = main(["generate", "--output-dir", str(tmp_path / "taken"), "--num-instructions", "5",
                 "--base-url", "http://127.0.0.1:9/v1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "run folder" in err


def test_export_holds_the_requested_rows_and_http_lines_stay_quiet(
    tmp_path, openai_server, monkeypatch, capsys, caplog
):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out_dir, alpaca = tmp_path / "run", tmp_path / "alpaca.json"
    base = ["generate", "--output-dir", str(out_dir), "--base-url", server.base_url, "--no-progress"]
    assert main([*base, "--num-instructions", "12"]) == 0
    assert main([*base, "--num-instructions", "5", "--export-alpaca", str(alpaca)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == 5
    assert len(json.loads(alpaca.read_text())) == 5
    assert "HTTP Request" not in caplog.text


def test_azure_key_variable_is_used(tmp_path, openai_server, monkeypatch):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    code = main(["generate", "--output-dir", str(tmp_path / "r"), "--num-instructions", "3",
                 "--base-url", server.base_url, "--no-progress"])  # fmt: skip
    assert code == 0


def test_sampling_limits_and_timeout_come_from_the_command_line(tmp_path, openai_server, monkeypatch, capsys):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out_dir = tmp_path / "run"
    argv = ["generate", "--output-dir", str(out_dir), "--num-instructions", "3", "--base-url", server.base_url,
            "--max-tokens", "321", "--temperature", "0.3", "--top-p", "0.9", "--request-timeout", "45", "--frequency-penalty", "0.4",
            "--max-retries", "2", "--label-attempts", "2", "--max-concurrency", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    generation = [r for r in server.requests if "Instruction:" in r["messages"][-1]["content"]]
    assert generation and all(
        (r["max_tokens"], r["temperature"], r["top_p"], r["frequency_penalty"]) == (321, 0.3, 0.9, 0.4)
        for r in generation
    )
    config = json.loads((out_dir / "run.json").read_text())["config"]
    assert (config["max_tokens"], config["timeout"], config["max_retries"], config["label_attempts"]) == (
        321,
        45,
        2,
        2,
    )


def test_missing_key_leaves_no_folder_and_gives_advice_for_the_shell(tmp_path, capsys):
    out_dir = tmp_path / "new" / "run"
    assert main(["generate", "--output-dir", str(out_dir), "--num-instructions", "5"]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY=local" in err and "api_key=" not in err
    assert not (tmp_path / "new").exists()


def test_missing_key_leaves_no_folder_from_python_either(tmp_path):
    import pytest

    from bioinstruct.errors import ConfigError
    from bioinstruct.generation.builder import BioInstructBuilder

    with pytest.raises(ConfigError):
        BioInstructBuilder(tmp_path / "run", progress=False).build(3)
    assert not (tmp_path / "run").exists()
