"""Multi-node training on CPU: two "nodes" on one machine (two launches of accelerate_configs/multi_node.yaml
with machine_rank 0 and 1, main_process_ip 127.0.0.1, gloo), ending with the same adapter contract as
one node: a loadable, non-empty adapter, the model card, and one epoch of the data seen by two ranks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bioinstruct.training.recipe import verify_adapter
from tests.training.recipe_args import tiny_recipe, write_rows
from tests.training.test_launch import REPO, SFT, _env

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_nodes_train_one_adapter(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    recipe = tiny_recipe(tmp_path / "r.yaml", tiny_model_dir, write_rows(tmp_path / "d.jsonl"), out,
                         max_steps=4, save_steps=4, per_device_train_batch_size=4)  # fmt: skip
    port = _free_port()
    launches = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "accelerate.commands.launch",
                "--config_file",
                str(REPO / "accelerate_configs" / "multi_node.yaml"),
                "--num_machines",
                "2",
                "--num_processes",
                "2",
                "--machine_rank",
                str(rank),
                "--main_process_ip",
                "127.0.0.1",
                "--main_process_port",
                str(port),
                "--mixed_precision",
                "no",
                SFT,
                "--config",
                str(recipe),
            ],  # fmt: skip
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    results = [launch.communicate(timeout=900) for launch in launches]
    for launch, (_, stderr) in zip(launches, results, strict=True):
        assert launch.returncode == 0, stderr[-3000:]
    verify_adapter(out)
    assert "4 per device x 1 accumulation x 2 process(es)" in (out / "README.md").read_text()
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and state["epoch"] == pytest.approx(1.0)  # 2 ranks x 4 rows x 4 steps
