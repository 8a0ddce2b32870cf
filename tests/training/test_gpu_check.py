"""benchmarks/gpu_check.sh in its reduced mode (tiny sizes, CPU): the script a lent GPU runs must
not rot between the sessions that have one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.slow


def test_gpu_check_reduced_runs_every_step(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--reduced"], env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    report = json.loads((tmp_path / "gpu_check" / "gpu_check.json").read_text())
    failed = [step for step in report["steps"] if not step["ok"]]
    assert done.returncode == 0 and not failed, (failed, done.stderr[-2000:])
    steps = {step["step"]: step for step in report["steps"]}
    assert [r["variant"] for r in steps["sft_throughput"]["results"]] == ["trl-defaults", "recipe"]
    assert all(
        r["tokens_per_s"] > 0 and r["final_loss"] is not None for r in steps["sft_throughput"]["results"]
    )
    assert steps["zero3"]["adapter_bytes"] > 0
    assert steps["evaluator"]["items"] > 0 and steps["evaluator"]["items_per_s"] > 0
    table = (tmp_path / "gpu_check" / "gpu_check.md").read_text()
    assert "| zero3 | ok" in table and "tok/s" in table and "items/s" in table
