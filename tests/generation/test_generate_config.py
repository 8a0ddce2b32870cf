"""`bioinstruct generate --config run.yaml`: the YAML under the flags, and the generate.yaml each run
writes, which reruns (and resumes) it and never holds a key."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bioinstruct.cli import main
from bioinstruct.config_files import parse_config
from bioinstruct.generation.config import GenerateConfig
from tests.generation.builder_fakes import ScriptedTeacher

KEY = "sk-test-CONFIG-1234567890abcdef"
PROG = "bioinstruct generate"


def _parse(argv: list[str]) -> GenerateConfig:
    return parse_config(GenerateConfig, argv, PROG)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_flags_override_the_yaml_wherever_they_stand(tmp_path):
    recipe = _write(
        tmp_path / "run.yaml",
        "output_dir: runs/a\nnum_instructions: 50\nteacher_model: my-teacher\nseed: 5\njson_mode: true\n"
        "request_seeds: false\nmax_cost_usd: 2\ndecontaminate: qa\n"
        "decontamination_data_file: [medqa=a.jsonl, pubmedqa=b.jsonl]\n",
    )
    from_file = _parse(["--config", str(recipe)])
    assert (from_file.output_dir, from_file.num_instructions) == ("runs/a", 50)
    assert from_file.teacher_model == "my-teacher"
    assert from_file.json_mode and not from_file.request_seeds and from_file.max_cost_usd == 2.0
    assert from_file.decontamination_data_file == ["medqa=a.jsonl", "pubmedqa=b.jsonl"]
    assert from_file.temperature == 1.0  # not in the file: the field's default

    overrides = ["--num-instructions", "60", "--seed", "0", "--json-mode", "false", "--request-seeds",
                 "--decontamination-data-file", "medqa=c.jsonl"]  # fmt: skip
    for argv in ([*overrides, "--config", str(recipe)], ["--config", str(recipe), *overrides]):
        config = _parse(argv)
        assert (config.num_instructions, config.seed) == (60, 0)
        assert not config.json_mode and config.request_seeds
        assert config.decontamination_data_file == ["medqa=c.jsonl"]  # the flag's list replaces the file's
        assert config.teacher_model == "my-teacher" and config.output_dir == "runs/a"
    assert not _parse(["--config", str(recipe), "--request-seeds", "--no-request-seeds"]).request_seeds
    # a flag spelled like the key (as `bioinstruct train` flags are)
    assert _parse(["--config", str(recipe), "--num_instructions", "7"]).num_instructions == 7


def test_the_flags_spelled_as_before_still_parse():
    config = _parse(["--output-dir", "r", "--num-instructions", "5", "--no-request-seeds", "--max-tokens", "400",
                     "--request-timeout", "30", "--batch-api", "--no-progress", "--top-p", "0.9",
                     "--decontaminate", "qa", "--decontamination-data-file", "medqa=a.jsonl",
                     "--decontamination-data-file", "bioasq=b.json", "--export-alpaca", "x.json"])  # fmt: skip
    assert not config.request_seeds and config.batch_api and config.no_progress
    assert (config.max_tokens, config.request_timeout, config.top_p) == (400, 30.0, 0.9)
    assert config.decontamination_data_file == ["medqa=a.jsonl", "bioasq=b.json"]
    defaults = GenerateConfig(output_dir="r", num_instructions=5)
    assert _parse(["--output-dir", "r", "--num-instructions", "5"]) == defaults


def test_the_written_generate_yaml_reruns_the_same_configuration(
    tmp_path, openai_server, monkeypatch, capsys
):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out_dir = tmp_path / "run"
    flags = ["--output-dir", str(out_dir), "--num-instructions", "6", "--teacher-model", "gpt-4o-mini",
             "--base-url", server.base_url, "--max-concurrency", "2", "--seed", "3", "--temperature", "0.5",
             "--max-cost-usd", "5", "--no-request-seeds", "--no-progress"]  # fmt: skip
    assert main(["generate", *flags]) == 0
    written = out_dir / "generate.yaml"
    text = written.read_text()
    assert text.startswith("# ") and f"bioinstruct generate --config {written}" in text
    assert yaml.safe_load(text)["teacher_model"] == "gpt-4o-mini"
    assert _parse(["--config", str(written)]) == _parse(flags)
    assert not list(out_dir.glob(".generate.yaml.*"))  # the temporary file of the atomic write is gone

    # Rerunning from the file alone resumes the same run (here: already complete) and rewrites it unchanged.
    capsys.readouterr()
    assert main(["generate", "--config", str(written)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == 6
    assert written.read_text() == text
    # ... and with an override, the file records the new target.
    assert main(["generate", "--config", str(written), "--num-instructions", "8"]) == 0
    assert yaml.safe_load(written.read_text())["num_instructions"] == 8
    assert json.loads((out_dir / "run.json").read_text())["config"]["teacher_model"] == "gpt-4o-mini"


def test_no_secret_reaches_generate_yaml(tmp_path, openai_server, monkeypatch, caplog):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    host_url = server.base_url  # http://127.0.0.1:PORT/v1
    with_credentials = host_url.replace("http://", f"http://user:{KEY}@")
    out_dir = tmp_path / "run"
    argv = ["generate", "--output-dir", str(out_dir), "--num-instructions", "3", "--base-url", with_credentials,
            "--no-progress"]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    text = (out_dir / "generate.yaml").read_text()
    assert KEY not in text and "user:" not in text
    assert yaml.safe_load(text)["base_url"] == host_url
    assert "base_url holds credentials" in caplog.text and KEY not in caplog.text
    for path in out_dir.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


def test_a_value_holding_a_credential_is_left_out(monkeypatch, caplog):
    from bioinstruct.config_files import config_yaml

    monkeypatch.setenv("OPENAI_API_KEY", "not-key-shaped-but-secret")
    config = GenerateConfig(output_dir="r", num_instructions=5, prompt_template="t/not-key-shaped-but-secret.j2",
                            seed_tasks=f"{KEY}.jsonl", base_url="http://127.0.0.1:8000/v1#frag")  # fmt: skip
    with caplog.at_level(logging.WARNING):
        recorded = yaml.safe_load(config_yaml(config, "header"))
    assert "prompt_template" not in recorded and "seed_tasks" not in recorded
    assert recorded["base_url"] == "http://127.0.0.1:8000/v1" and recorded["output_dir"] == "r"
    assert "not-key-shaped-but-secret" not in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("output_dir: r\nnum_instruction: 5\n", ["unknown key 'num_instruction' in", "(line 2)",
                                                  "did you mean 'num_instructions'?"]),
        ("output_dir: r\nnum_instructions: 5\nseed: abc\n", ["run.yaml:3: seed: 'abc' is not an integer"]),
        ("output_dir: r\nnum_instructions: 5\njson_mode: maybe\n", ["json_mode: 'maybe' is not true or false"]),
        ("output_dir: r\nnum_instructions: 5\napi_key: sk-xyz\n", ["'api_key': credentials are never read from a file",
                                                                    "OPENAI_API_KEY"]),
        ("output_dir: r\nnum_instructions: [5, 6]\n", ["num_instructions: [5, 6] is a list; expected one value"]),
        ("output_dir: r\nseed: [1\n", ["run.yaml:3:1: invalid YAML", "expected ',' or ']'"]),
        ("output_dir: r\n", ["the following arguments are required: --num-instructions"]),
    ],
    ids=["typo", "bad-int", "bad-bool", "secret-key", "list", "syntax", "missing-required"],
)  # fmt: skip
def test_a_config_file_mistake_is_one_line_and_exit_2(text, phrases, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.chdir(tmp_path)
    recipe = _write(tmp_path / "run.yaml", text)
    assert main(["generate", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)
    assert not (tmp_path / "r").exists()


def test_flag_mistakes_next_to_a_config_file_are_one_line(tmp_path, capsys):
    recipe = _write(tmp_path / "run.yaml", "output_dir: r\nnum_instructions: 5\n")
    assert main(["generate", "--config", str(recipe), "--num-instrucions", "5"]) == 2
    assert main(["generate", "--config", str(tmp_path / "nope.yaml")]) == 2
    first, second = capsys.readouterr().err.splitlines()
    assert "unknown option --num-instrucions; did you mean '--num-instructions'?" in first
    assert "--config" in second and "nope.yaml" in second and "no such file" in second


def test_a_failed_rerun_leaves_generate_yaml_as_it_was(tmp_path, openai_server, monkeypatch, capsys):
    server = openai_server(ScriptedTeacher())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out_dir = tmp_path / "run"
    base = ["generate", "--output-dir", str(out_dir), "--base-url", server.base_url, "--no-progress"]
    assert main([*base, "--num-instructions", "3"]) == 0
    before = (out_dir / "generate.yaml").read_text()
    # resuming with decontamination switched on is refused before any request
    assert main([*base, "--num-instructions", "5", "--decontaminate", "qa"]) == 2
    assert "was generated with" in capsys.readouterr().err
    assert (out_dir / "generate.yaml").read_text() == before


def test_help_imports_neither_torch_nor_transformers():
    code = (
        "import sys; from bioinstruct.cli import main\ntry: main(['generate', '--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--config FILE.yaml" in result.stdout and "--no-request-seeds" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_dataclass_is_one_hf_argument_parser_reads_too(tmp_path):
    """The fields follow HfArgumentParser's rules (metadata = add_argument keywords), so the HF stack
    can read generate.yaml as well (transformers is no dependency of `generate`, hence ours)."""
    transformers = pytest.importorskip("transformers")
    written = _write(tmp_path / "generate.yaml", "output_dir: r\nnum_instructions: 5\nrequest_seeds: false\n")
    (from_hf,) = transformers.HfArgumentParser(GenerateConfig).parse_yaml_file(str(written))
    assert from_hf == _parse(["--config", str(written)])


def test_the_python_api_takes_the_config_and_keywords_build_the_same(tmp_path, openai_server):
    """``BioInstructBuilder(config)`` and ``BioInstructBuilder(folder, **keywords)`` are one builder: the
    recorded generate.yaml continues a run started from Python, and keywords override a config."""
    from bioinstruct.errors import ConfigError
    from bioinstruct.generation.builder import BioInstructBuilder

    server = openai_server(ScriptedTeacher())
    out_dir = tmp_path / "run"
    options = dict(teacher_model="t", base_url=server.base_url, max_concurrency=1, seed=4, timeout=9.0)
    by_keywords = BioInstructBuilder(out_dir, api_key="local", progress=False, **options)
    assert by_keywords.config.request_timeout == 9.0 and by_keywords.config.no_progress
    assert len(by_keywords.build(4)) == 4
    written = _write(
        tmp_path / "generate.yaml", yaml.safe_dump(vars(by_keywords.config) | {"num_instructions": 6})
    )
    config = _parse(["--config", str(written)])
    by_config = BioInstructBuilder(config, api_key="local")
    assert vars(by_config.config) == vars(by_keywords.config) | {"num_instructions": 6}
    assert len(by_config.build()) == 6  # the config's num_instructions; the run resumes
    assert json.loads((out_dir / "run.json").read_text())["config"]["seed"] == 4
    assert BioInstructBuilder(config, api_key="local", seed=9).config.seed == 9
    with pytest.raises(ConfigError, match="unknown setting 'max_token'; did you mean 'max_tokens'"):
        BioInstructBuilder(out_dir, max_token=5)
