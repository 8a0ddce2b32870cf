"""The console policy (bioinstruct.quiet): library chatter silenced by default, shown once with -v;
our own repeated warnings summarised once per benchmark."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bioinstruct import quiet


@pytest.fixture
def clean_environment(monkeypatch):
    """quiet.apply sets variables with setdefault; start without them and restore them afterwards."""
    for name in quiet.QUIET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name in quiet.QUIET_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)


def test_quiet_by_default_sets_the_libraries_switches(clean_environment, monkeypatch):
    import os

    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")  # the user's own choice wins
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet.apply(verbose=False)
        warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
    assert shown == []
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"
    assert os.environ["DATASETS_VERBOSITY"] == "error" and os.environ["TQDM_DELAY"] == "1"
    assert logging.getLogger("absl").level == logging.WARNING
    assert logging.getLogger("accelerate").level == logging.WARNING


def test_verbose_shows_each_library_warning_once(clean_environment):
    import os

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet.apply(verbose=True)
        for _ in range(2):
            warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["`is_gradient_checkpointing` is deprecated"]
    assert "TRANSFORMERS_VERBOSITY" not in os.environ


NOISE = r"""
import logging, sys, warnings
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
from bioinstruct import quiet
quiet.apply(verbose=sys.argv[1] == "-v")
from rouge_score import rouge_scorer
rouge_scorer.RougeScorer(["rougeL"])                   # absl: "Using default tokenizer."
from transformers import AutoModelForCausalLM, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(sys.argv[2])
tokenizer.model_max_length = 8
tokenizer("a b c d e f g h i j k l m n o p")             # "Token indices sequence length is longer ..."
model = AutoModelForCausalLM.from_pretrained(sys.argv[2])
model.is_gradient_checkpointing                         # FutureWarning, twice
model.is_gradient_checkpointing
print("done")
"""


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True])
def test_the_real_libraries_are_quiet_by_default(tiny_model_dir: Path, verbose: bool):
    """Drawn from a real quickstart console: the same calls into rouge_score and transformers."""
    env_keys = ("PATH", "HOME", "HF_HUB_OFFLINE", "HF_HOME", "PYTHONPATH", "XDG_CACHE_HOME")
    import os

    env = {key: os.environ[key] for key in env_keys if key in os.environ}
    env["HF_HUB_OFFLINE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", NOISE, "-v" if verbose else "-q", str(tiny_model_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert result.stdout.strip() == "done"
    if not verbose:
        assert result.stderr == "", result.stderr
        return
    assert "Using default tokenizer" in result.stderr
    assert "Token indices sequence length is longer" in result.stderr
    assert result.stderr.count("is_gradient_checkpointing` is deprecated") == 1  # once, not twice


def test_truncation_is_summarised_once_per_benchmark(tiny_model_dir: Path, tmp_path: Path, caplog):
    """70 long prompts run in two chunks of the evaluator: one line per variant, not one per chunk."""
    from bioinstruct.evaluation.evaluator import Evaluator

    options = {"A": "cough", "B": "fever", "C": "rash", "D": "pain"}
    rows = [
        {"question": f"Case {i}: " + "the patient reports cough and fever " * 6, "answer": "fever",
         "options": options, "answer_idx": "B"}
        for i in range(70)
    ]  # fmt: skip
    data = tmp_path / "medqa.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    evaluator = Evaluator(
        str(tiny_model_dir), progress=False, backend_options={"device": "cpu", "max_length": 24}
    )
    with caplog.at_level(logging.WARNING):
        evaluator.run(["medqa"], data_files={"medqa": str(data)})
    lines = [r.getMessage() for r in caplog.records if "cut from the left" in r.getMessage()]
    assert lines == [
        "medqa (base): 70 of 70 prompts are longer than the model's 24 tokens and were cut from the left "
        "(their beginning, e.g. the instruction or a demonstration, was not seen)"
    ]


@pytest.mark.slow
def test_training_console_shows_a_bar_with_eta_and_the_loss_lines_only(tiny_model_dir: Path, tmp_path: Path):
    """A real `bioinstruct train` in a fresh process: the bar (with ETA) and the per-step loss lines,
    none of the libraries' warnings (DeepSpeed's accelerator line, deprecations, absl)."""
    import os
    import re

    recipe = Path(__file__).parents[1] / "examples" / "recipes" / "tiny-cpu.yaml"
    seeds = Path(__file__).parents[1] / "bioinstruct" / "generation" / "seed_tasks.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in quiet.QUIET_ENVIRONMENT}
    env["HF_HUB_OFFLINE"] = "1"
    command = [
        sys.executable, "-m", "bioinstruct.cli", "train", "--config", str(recipe),
        "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(seeds), "--prompt_template", "chat",
        "--max_steps", "2", "--logging_steps", "1", "--save_steps", "100", "--max_length", "128",
        "--per_device_train_batch_size", "2", "--output_dir", str(tmp_path / "sft"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    console = result.stdout + result.stderr.replace("\r", "\n")
    assert re.search(r"2/2 \[\d\d:\d\d<\d\d:\d\d", console), console  # the bar, with elapsed<remaining
    assert len(re.findall(r"\{'loss': ", result.stdout)) == 2
    for noise in (
        "Warning",
        "WARNING",
        "Setting accelerator to CPU",
        "absl",
        "Token indices",
        "had no length",
    ):
        assert noise not in console, noise
