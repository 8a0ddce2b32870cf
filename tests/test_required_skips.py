"""CI's guard: with BIOINSTRUCT_REQUIRE_SAMPLES / BIOINSTRUCT_REQUIRE_REAL set, a `samples` test or a
real-model test that skips is a failure (a missing folder or install step cannot pass silently)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests import conftest
from tests.conftest import REPO_ROOT


def _item(marks=(), fixtures=()):
    return SimpleNamespace(
        get_closest_marker=lambda name: object() if name in marks else None, fixturenames=list(fixtures)
    )


def test_required_reason_only_under_the_ci_variables(monkeypatch):
    monkeypatch.delenv(conftest.REQUIRE_SAMPLES, raising=False)
    monkeypatch.delenv(conftest.REQUIRE_REAL, raising=False)
    samples, real = _item(marks=["samples"]), _item(fixtures=["transformers_server", "small_model_dir"])
    assert conftest._required_reason(samples) is None and conftest._required_reason(real) is None
    monkeypatch.setenv(conftest.REQUIRE_SAMPLES, "1")
    monkeypatch.setenv(conftest.REQUIRE_REAL, "1")
    assert "`samples` test skipped" in conftest._required_reason(samples)
    assert "real-model test skipped" in conftest._required_reason(real)
    assert conftest._required_reason(_item(fixtures=["tiny_model_dir"])) is None
    monkeypatch.setenv(conftest.REQUIRE_BROWSER, "1")
    assert "headless-browser test skipped" in conftest._required_reason(_item(fixtures=["browser"]))


@pytest.mark.slow
def test_a_skipped_samples_test_fails_the_run_only_when_required(tmp_path):
    test = "tests/evaluation/test_ie_benchmarks.py::test_ncbi_first_row_mentions"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOINSTRUCT_REQUIRE")}
    env["BIOINSTRUCT_SAMPLES"] = str(tmp_path / "absent")
    argv = [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider", "-rs"]
    plain = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and "1 skipped" in plain.stdout, plain.stdout[-2000:]
    assert "real benchmark samples not found" in plain.stdout
    env["BIOINSTRUCT_REQUIRE_SAMPLES"] = "1"
    required = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert required.returncode == 1 and "1 error" in required.stdout, required.stdout[-2000:]  # at setup
    assert "BIOINSTRUCT_REQUIRE_SAMPLES=1 but this `samples` test skipped" in required.stdout
