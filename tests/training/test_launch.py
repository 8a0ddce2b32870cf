"""End-to-end launches in subprocesses: kill-and-resume, two real CPU ranks (DDP), DeepSpeed
ZeRO-2 and ZeRO-3 + LoRA. Slow (DeepSpeed JIT-compiles a CPU op on its first run); CI runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bioinstruct.training.recipe import verify_adapter
from tests.training.recipe_args import tiny_recipe, write_rows

REPO = Path(__file__).resolve().parents[2]
SFT = str(REPO / "examples" / "sft.py")
pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _state(checkpoint: Path) -> dict:
    return json.loads((checkpoint / "trainer_state.json").read_text())


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path, tiny_model_dir: Path):
    out = tmp_path / "out"
    recipe = tiny_recipe(
        tmp_path / "r.yaml",
        tiny_model_dir,
        write_rows(tmp_path / "d.jsonl"),
        out,
        max_steps=60,
        save_steps=5,
        save_total_limit=None,
    )
    first = subprocess.Popen(
        [sys.executable, SFT, "--config", str(recipe)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not list(out.glob("checkpoint-*/trainer_state.json")):
        assert first.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (out / "checkpoint-60").exists(), "the run finished before it was killed"
    assert not (out / "adapter_model.safetensors").exists(), "a killed run left a finished-looking adapter"
    saved = max(int(path.parent.name.split("-")[1]) for path in out.glob("checkpoint-*/trainer_state.json"))

    second = subprocess.run(
        [sys.executable, SFT, "--config", str(recipe)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming from checkpoint {out / f'checkpoint-{saved}'}" in second.stderr
    state = _state(out / "checkpoint-60")
    assert state["global_step"] == 60
    logged_steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert logged_steps == sorted(set(logged_steps)), "steps were trained twice"
    verify_adapter(out)

    # An explicit --resume_from_checkpoint works with LoRA too, and a longer rerun continues.
    third = subprocess.run(
        [
            sys.executable,
            SFT,
            "--config",
            str(recipe),
            "--max_steps",
            "64",
            "--resume_from_checkpoint",
            str(out / "checkpoint-60"),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert third.returncode == 0, third.stderr[-3000:]
    assert _state(out / "checkpoint-64")["global_step"] == 64


def _launch(tmp_path: Path, tiny_model_dir: Path, config: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    recipe = tiny_recipe(
        tmp_path / "r.yaml",
        tiny_model_dir,
        write_rows(tmp_path / "d.jsonl"),
        out,
        max_steps=4,
        save_steps=2,
        per_device_train_batch_size=4,
    )
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "accelerate_configs" / config),
        "--num_processes",
        "2",
        "--mixed_precision",
        "no",
        SFT,
        "--config",
        str(recipe),
    ]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return result, out


def test_accelerate_multi_gpu_config_runs_two_cpu_ranks(tmp_path: Path, tiny_model_dir: Path):
    _, out = _launch(tmp_path, tiny_model_dir, "multi_gpu.yaml")
    verify_adapter(out)
    assert "4 per device x 1 accumulation x 2 process(es)" in (out / "README.md").read_text()
    # two ranks x 4 rows per step x 4 steps = 32 rows = one epoch of the 32-row data set
    assert _state(out / "checkpoint-4")["epoch"] == pytest.approx(1.0)


def test_deepspeed_zero2(tmp_path: Path, tiny_model_dir: Path):
    _, out = _launch(tmp_path, tiny_model_dir, "deepspeed_zero2.yaml")
    verify_adapter(out)
    assert "2 process(es)" in (out / "README.md").read_text()


def test_deepspeed_zero3_with_lora_saves_a_non_empty_adapter(tmp_path: Path, tiny_model_dir: Path):
    from safetensors.torch import load_file

    _, out = _launch(tmp_path, tiny_model_dir, "deepspeed_zero3.yaml")
    tensors = load_file(str(verify_adapter(out)))
    assert tensors and all(tensor.numel() > 0 for tensor in tensors.values())
