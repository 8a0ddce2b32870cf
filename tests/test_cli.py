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
