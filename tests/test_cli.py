"""The top-level CLI: stages listed without heavy imports; missing extras give one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bioinstruct import cli


def test_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for stage in ("quickstart", "generate", "dedup", "train", "evaluate", "benchmarks", "push"):
        assert stage in out


def test_help_does_not_import_torch():
    code = (
        "import sys; from bioinstruct import cli; cli.build_parser(['--help']); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_missing_extra_is_one_clear_line(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError("No module named 'trl'", name="trl")

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert cli.main(["train", "--config", "x.yaml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "bioinstruct: error: `bioinstruct train` needs 'trl', which is not installed: pip install 'bioinstruct[train]'"
    ]


@pytest.mark.parametrize(
    ("stage", "hint"),
    [("generate", "rerun the same command to resume"), ("decontaminate", "no partial output was written")],
)
def test_ctrl_c_says_whether_rerunning_resumes(stage, hint, monkeypatch, capsys):
    import bioinstruct.cli as cli

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_import_stage", interrupted)
    assert cli.main([stage, "x"]) == 130
    assert capsys.readouterr().err == f"bioinstruct: interrupted; {hint}.\n"


def test_a_failed_run_removes_only_the_empty_output_it_created(tmp_path, monkeypatch, capsys):
    """`generate` without a key fails: a new output folder is not left behind, an existing one stays."""
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    new = tmp_path / "runs" / "new"
    assert cli.main(["generate", "--output-dir", str(new), "--num-instructions", "5"]) == 2
    assert not (tmp_path / "runs").exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    assert cli.main(["generate", "--output-dir", str(existing), "--num-instructions", "5"]) == 2
    assert existing.is_dir()
    assert capsys.readouterr().err.count("no teacher API key") == 2


def test_flag_mistakes_are_one_line_with_a_suggestion(capsys):
    assert cli.main(["dedup", "in.jsonl", "out.jsonl", "--threshhold", "0.5"]) == 2
    assert capsys.readouterr().err == (
        "bioinstruct dedup: error: unknown option --threshhold; did you mean '--threshold'? "
        "(see `bioinstruct dedup --help`)\n"
    )
    assert (
        cli.main(["dedup", "in.jsonl", "out.jsonl", "--thr", "0.5", "--no-progress"]) == 2
    )  # abbreviation ok
    assert "in.jsonl: file not found" in capsys.readouterr().err
    assert cli.main(["evaluat", "--model", "m"]) == 2
    assert "did you mean 'evaluate'?" in capsys.readouterr().err


def test_benchmarks_group_footer_lists_that_group_only(capsys):
    assert cli.main(["benchmarks", "--group", "qa"]) == 0
    footer = capsys.readouterr().out.strip().splitlines()[-1]
    assert footer == "groups: qa = medqa, medmcqa, pubmedqa, bioasq"
    assert cli.main(["benchmarks"]) == 0
    footer = capsys.readouterr().out.strip().splitlines()[-1]
    assert footer.startswith("groups: ") and "; paper = " in footer and "; gen = " in footer
