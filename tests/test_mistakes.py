"""Every stage answers a user's mistake with one line: the file, line or field, the bad value, what
is expected ("did you mean" for names), exit code 2, no traceback, and no output left behind.

One table, walked in-process through the real ``bioinstruct`` entry point (``bioinstruct.cli.main``);
a few cases again in a fresh process, where the console is exactly what a user sees.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bioinstruct.cli import main

RECIPE = Path(__file__).parents[1] / "examples" / "recipes" / "tiny-cpu.yaml"
KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL")

# (case id, argv, phrases the one line must hold, outputs that must not exist afterwards).
# Placeholders: {w} the workspace, {tiny} the tiny model, {recipe} tiny-cpu.yaml.
CASES: list[tuple[str, list[str], list[str], list[str]]] = [
    # generate
    ("generate-no-key", ["generate", "--output-dir", "{w}/gen", "--num-instructions", "5"],
     ["no teacher API key", "OPENAI_API_KEY=local"], ["{w}/gen"]),
    ("generate-bad-int", ["generate", "--output-dir", "{w}/gen", "--num-instructions", "abc"],
     ["--num-instructions: 'abc' is not an integer"], ["{w}/gen"]),
    ("generate-misspelled-flag", ["generate", "--output-dir", "{w}/gen", "--num-instrucions", "5"],
     ["unknown option --num-instrucions", "did you mean '--num-instructions'?"], ["{w}/gen"]),
    ("generate-unknown-benchmark", ["generate", "--output-dir", "{w}/gen", "--num-instructions", "5",
                                    "--base-url", "http://127.0.0.1:9/v1", "--decontaminate", "qaa"],
     ["unknown benchmark 'qaa'", "did you mean 'qa'?"], ["{w}/gen"]),
    ("generate-missing-seeds", ["generate", "--output-dir", "{w}/gen", "--num-instructions", "5",
                                "--base-url", "http://127.0.0.1:9/v1", "--seed-tasks", "{w}/nope.jsonl"],
     ["nope.jsonl", "not found"], ["{w}/gen"]),
    ("generate-bad-threshold", ["generate", "--output-dir", "{w}/gen", "--num-instructions", "5",
                                "--base-url", "http://127.0.0.1:9/v1", "--similarity-threshold", "3"],
     ["similarity_threshold", "3.0"], ["{w}/gen"]),
    # dedup
    ("dedup-missing-input", ["dedup", "{w}/nope.jsonl", "{w}/out.jsonl"], ["nope.jsonl: file not found"],
     ["{w}/out.jsonl"]),
    ("dedup-bad-json", ["dedup", "{w}/bad.jsonl", "{w}/out.jsonl"], ["bad.jsonl:1: invalid JSON"],
     ["{w}/out.jsonl"]),
    ("dedup-unknown-field", ["dedup", "{w}/good.jsonl", "{w}/out.jsonl", "--field", "instrution"],
     ["row 0: missing field 'instrution'", "did you mean 'instruction'?"], ["{w}/out.jsonl"]),
    ("dedup-bad-choice", ["dedup", "{w}/good.jsonl", "{w}/out.jsonl", "--tokenizer", "roge"],
     ["--tokenizer: 'roge' is not one of biomedical, rouge", "did you mean 'rouge'?"], ["{w}/out.jsonl"]),
    ("dedup-bad-threshold", ["dedup", "{w}/good.jsonl", "{w}/out.jsonl", "--threshold", "2"],
     ["--threshold must be between 0 and 1, got 2.0"], ["{w}/out.jsonl"]),
    ("dedup-output-is-input", ["dedup", "{w}/good.jsonl", "{w}/good.jsonl"], ["is IN itself"], []),
    ("dedup-dropped-folder", ["dedup", "{w}/good.jsonl", "{w}/out.jsonl", "--dropped", "{w}"],
     ["--dropped", "is a folder"], ["{w}/out.jsonl"]),
    # decontaminate
    ("decontaminate-unknown-benchmark", ["decontaminate", "{w}/good.jsonl", "--benchmarks", "medqaa",
                                         "--output", "{w}/clean.jsonl"],
     ["unknown benchmark 'medqaa'", "did you mean 'medqa'"], ["{w}/clean.jsonl"]),
    ("decontaminate-bad-pair", ["decontaminate", "{w}/good.jsonl", "--benchmarks", "medqa", "--data-file", "medqa"],
     ["--data-file expects NAME=PATH", "'medqa'"], []),
    ("decontaminate-missing-data-file", ["decontaminate", "{w}/good.jsonl", "--benchmarks", "medqa",
                                         "--data-file", "medqa={w}/nope.jsonl", "--output", "{w}/clean.jsonl",
                                         "--report", "{w}/report/r.json"],
     ["benchmark 'medqa'", "nope.jsonl", "not found"], ["{w}/clean.jsonl", "{w}/report"]),
    ("decontaminate-bad-ngram", ["decontaminate", "{w}/good.jsonl", "--benchmarks", "medqa", "--ngram", "0"],
     ["--ngram must be at least 1", "got 0"], []),
    ("decontaminate-missing-data", ["decontaminate", "{w}/nope.jsonl", "--benchmarks", "qa"],
     ["nope.jsonl: file not found"], []),
    # train: the recipe file
    ("train-yaml-syntax", ["train", "--config", "{w}/syntax.yaml"],
     ["syntax.yaml:3:7", "invalid YAML", "expected ',' or ']'"], []),
    ("train-bad-float", ["train", "--config", "{w}/lr.yaml"], ["lr.yaml:3", "learning_rate: 'fast' is not a float"],
     ["{w}/sft"]),
    ("train-unknown-key", ["train", "--config", "{w}/unknown.yaml"],
     ["unknown key 'lora_rank' in", "unknown.yaml (line 3)", "did you mean 'lora_r'?"], ["{w}/sft"]),
    ("train-repeated-key", ["train", "--config", "{w}/twice.yaml"], ["twice.yaml:3", "'lora_r' is set twice"],
     []),
    ("train-bad-choice-in-recipe", ["train", "--config", "{w}/choice.yaml"],
     ["choice.yaml:2", "prompt_template: 'alpacca' is not one of", "did you mean 'alpaca'?"], []),
    ("train-missing-recipe", ["train", "--config", "{w}/nope.yaml"], ["--config", "nope.yaml", "no such file"], []),
    ("train-config-without-file", ["train", "--config"], ["--config needs a YAML file"], []),
    # train: flags over the recipe
    ("train-unknown-flag", ["train", "--config", "{recipe}", "--lora_rank", "8"],
     ["unknown option --lora_rank", "did you mean '--lora_r'?"], []),
    ("train-bad-float-flag", ["train", "--config", "{recipe}", "--learning_rate", "fast"],
     ["--learning_rate: 'fast' is not a float"], []),
    ("train-bad-choice-flag", ["train", "--config", "{recipe}", "--prompt_template", "alpacca"],
     ["--prompt_template: 'alpacca' is not one of bioinstruct, alpaca, chat", "did you mean 'alpaca'?"], []),
    ("train-bad-model", ["train", "--config", "{recipe}", "--model_name_or_path", "./nomodel",
                         "--output_dir", "{w}/sft"],
     ["model_name_or_path './nomodel': no such folder, and not a Hub id"], ["{w}/sft"]),
    ("train-missing-data", ["train", "--config", "{recipe}", "--model_name_or_path", "{tiny}", "--prompt_template",
                            "chat", "--dataset_name", "{w}/nope.jsonl", "--output_dir", "{w}/sft"],
     ["training data", "nope.jsonl", "does not exist"], ["{w}/sft"]),
    ("train-unknown-category", ["train", "--config", "{recipe}", "--model_name_or_path", "{tiny}",
                                "--prompt_template", "chat", "--dataset_name", "{w}/good.jsonl",
                                "--categories", "QA,XX", "--output_dir", "{w}/sft"],
     ["unknown categories XX", "QA, IE, GEN, OTHER"], ["{w}/sft"]),
    # evaluate
    ("evaluate-bad-model", ["evaluate", "--model", "./nomodel", "--benchmarks", "medqa",
                            "--data-file", "medqa={w}/medqa.jsonl", "--output-dir", "{w}/eval"],
     ["'./nomodel': no such folder, and not a Hub id"], ["{w}/eval"]),
    ("evaluate-bad-model-id", ["evaluate", "--model", "org/x/y", "--benchmarks", "medqa",
                               "--data-file", "medqa={w}/medqa.jsonl", "--output-dir", "{w}/eval"],
     ["'org/x/y': no such folder, and not a Hub id"], ["{w}/eval"]),
    ("evaluate-unknown-benchmark", ["evaluate", "--model", "{tiny}", "--benchmarks", "medqaa",
                                    "--output-dir", "{w}/eval"],
     ["unknown benchmark 'medqaa'", "did you mean 'medqa'"], ["{w}/eval"]),
    ("evaluate-bad-backend", ["evaluate", "--model", "{tiny}", "--benchmarks", "medqa", "--backend", "hff"],
     ["--backend: 'hff' is not one of hf, openai, vllm", "did you mean 'hf'?"], []),
    ("evaluate-bad-limit", ["evaluate", "--model", "{tiny}", "--benchmarks", "medqa", "--limit", "0",
                            "--data-file", "medqa={w}/medqa.jsonl", "--output-dir", "{w}/eval"],
     ["limit must be >= 1, got 0"], ["{w}/eval"]),
    ("evaluate-missing-data-file", ["evaluate", "--model", "{tiny}", "--benchmarks", "medqa",
                                    "--data-file", "medqa={w}/nope.jsonl", "--output-dir", "{w}/eval"],
     ["benchmark 'medqa'", "nope.jsonl", "not found"], ["{w}/eval"]),
    ("evaluate-missing-adapter", ["evaluate", "--model", "{tiny}", "--adapter", "{w}/noadapter", "--benchmarks",
                                  "medqa", "--data-file", "medqa={w}/medqa.jsonl", "--output-dir", "{w}/eval"],
     ["adapter '", "noadapter': no such folder, and not a Hub id"], ["{w}/eval"]),
    # push
    ("push-unknown-target", ["push", "adaptor", "{w}", "my-org/x"],
     ["TARGET: 'adaptor' is not one of dataset, adapter", "did you mean 'adapter'?"], []),
    ("push-not-a-run", ["push", "dataset", "{w}/nope", "my-org/x", "--dry-run", "{w}/dry"],
     ["instructions.jsonl not found"], ["{w}/dry"]),
    ("push-bad-repo-id", ["push", "dataset", "{w}", "not-a-repo", "--dry-run", "{w}/dry"],
     ["repo_id 'not-a-repo' must look like 'namespace/name'"], ["{w}/dry"]),
    ("push-not-an-adapter", ["push", "adapter", "{w}", "my-org/x", "--dry-run", "{w}/dry"],
     ["holds no adapter (adapter_config.json)"], ["{w}/dry"]),
    ("push-bad-dataset-id", ["push", "adapter", "{w}", "my-org/x", "--dataset-id", "nodash"],
     ["dataset id 'nodash' must look like 'namespace/name'"], []),
    # quickstart
    ("quickstart-bad-steps", ["quickstart", "--steps", "0", "--output-dir", "{w}/qs"],
     ["--steps must be at least 1, got 0"], ["{w}/qs"]),
    ("quickstart-misspelled-flag", ["quickstart", "--stepz", "3", "--output-dir", "{w}/qs"],
     ["unknown option --stepz", "did you mean '--steps'?"], ["{w}/qs"]),
    ("quickstart-bad-model", ["quickstart", "--model", "./nope", "--output-dir", "{w}/qs"],
     ["--model './nope'", "no such model folder"], ["{w}/qs"]),
    ("quickstart-missing-data-file", ["quickstart", "--data-file", "medqa={w}/nope.jsonl", "--output-dir", "{w}/qs"],
     ["medqa", "nope.jsonl", "not found"], ["{w}/qs"]),
    # benchmarks, and the stage name itself
    ("benchmarks-unknown-group", ["benchmarks", "--group", "qaa"], ["unknown group 'qaa'", "did you mean 'qa'?"], []),
    ("unknown-stage", ["traing", "--config", "x.yaml"], ["STAGE: 'traing' is not one of", "did you mean 'train'?"],
     []),
]  # fmt: skip

STAGES = {"generate", "dedup", "decontaminate", "train", "evaluate", "push", "quickstart", "benchmarks"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inputs of the mistakes: a good and a broken data file, broken recipes, QA rows."""
    folder = tmp_path_factory.mktemp("mistakes")
    row = {
        "instruction": "List the side effects of metformin.",
        "input": "",
        "output": "Nausea.",
        "category": "QA",
    }
    (folder / "good.jsonl").write_text(json.dumps(row) + "\n")
    (folder / "bad.jsonl").write_text('{"instruction": "x"\n')
    head = "model_name_or_path: runs/tiny-llama\ndataset_name: data.jsonl\n"
    (folder / "syntax.yaml").write_text("model_name_or_path: x\nlearning_rate: [1, 2\nlora_r: 8\n")
    (folder / "lr.yaml").write_text(f"{head}learning_rate: fast\nuse_cpu: true\n")
    (folder / "unknown.yaml").write_text(f"{head}lora_rank: 8\n")
    (folder / "twice.yaml").write_text("lora_r: 8\nlora_alpha: 16\nlora_r: 4\n")
    (folder / "choice.yaml").write_text("model_name_or_path: x\nprompt_template: alpacca\n")
    options = {"A": "Nausea", "B": "Rash", "C": "Cough", "D": "Fever"}
    item = {"question": "Which side effect of metformin is most common?", "answer": "Nausea", "options": options,
            "answer_idx": "A"}  # fmt: skip
    (folder / "medqa.jsonl").write_text(json.dumps(item) + "\n")
    return folder


@pytest.fixture
def no_teacher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _fill(values: list[str], workspace: Path, tiny: Path) -> list[str]:
    return [v.format(w=workspace, tiny=tiny, recipe=RECIPE) for v in values]


def test_every_stage_has_cases():
    assert {argv[0] for _, argv, _, _ in CASES} >= STAGES


@pytest.mark.parametrize(("case", "argv", "phrases", "outputs"), CASES, ids=[case[0] for case in CASES])
def test_a_mistake_is_one_line_and_exit_2(
    case, argv, phrases, outputs, workspace, tiny_model_dir, no_teacher, monkeypatch, capsys, caplog
):
    monkeypatch.chdir(workspace)
    if case != "generate-no-key":
        monkeypatch.setenv("OPENAI_API_KEY", "local")  # the mistake under test comes first
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "TQDM_DELAY"):
        monkeypatch.delenv(name, raising=False)  # quiet.apply sets them; leave the process as it was
    before = {path: path.read_bytes() for path in workspace.iterdir() if path.is_file()}
    with caplog.at_level(logging.WARNING):
        code = main(_fill(argv, workspace, tiny_model_dir))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert ": error: " in err and "Traceback" not in err and "usage:" not in err
    for phrase in _fill(phrases, workspace, tiny_model_dir):
        assert phrase in err, f"{phrase!r} not in {err!r}"
    assert 'api_key="local"' not in err and "api_key=" not in err  # no Python advice at the command line
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    for output in _fill(outputs, workspace, tiny_model_dir):
        assert not Path(output).exists(), f"{output} left behind"
    assert {path: path.read_bytes() for path in workspace.iterdir() if path.is_file()} == before


SUBPROCESS_CASES = [
    "train-yaml-syntax",
    "train-bad-float",
    "train-unknown-key",
    "evaluate-bad-model",
    "unknown-stage",
]


@pytest.mark.slow
@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_the_console_of_a_mistake_is_one_line(case, workspace, tiny_model_dir):
    """What a user sees in a terminal: stderr is the one line (no warning, log line or traceback)."""
    _, argv, phrases, _ = next(c for c in CASES if c[0] == case)
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
    env["HF_HUB_OFFLINE"] = "1"
    command = [sys.executable, "-m", "bioinstruct.cli", *_fill(argv, workspace, tiny_model_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workspace)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert all(phrase in result.stderr for phrase in _fill(phrases, workspace, tiny_model_dir))


def test_train_help_leads_with_config_without_heavy_imports():
    """`bioinstruct train --help`: --config first, the common fields, under 2 s (was 18 s, 900 lines)."""
    code = (
        "import sys, time; start = time.perf_counter(); from bioinstruct.cli import main; code = main(['train', "
        "'--help']); print(time.perf_counter() - start, code, sorted(m for m in ('torch', 'transformers', 'trl') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *help_lines, summary = result.stdout.strip().splitlines()
    seconds, status, heavy = summary.split(" ", 2)
    assert status == "0" and heavy == "[]" and float(seconds) < 2.0
    assert help_lines[0] == "usage: bioinstruct train --config RECIPE.yaml [--FIELD VALUE ...]"
    assert any("--help-all" in line for line in help_lines) and len(help_lines) < 60
    assert any(line.split()[:1] == ["lora_r"] for line in help_lines)


def test_short_help_fields_are_real_fields_with_their_defaults():
    from bioinstruct.commands.train import COMMON_FIELDS
    from bioinstruct.training.config import make_parser

    actions = {action.dest: action for action in make_parser()._actions if action.type is not None}
    for name, default, _ in COMMON_FIELDS:
        assert name in actions, name
        if default and default != "all":
            actual = actions[name].default
            actual = actual[0] if isinstance(actual, list) else actual
            assert str(actual).lower() == default, (name, actual)


@pytest.mark.slow
def test_help_all_lists_every_field(capsys):
    start = time.perf_counter()
    assert main(["train", "--help-all"]) == 0
    text = capsys.readouterr().out
    assert (
        "--lora_r" in text and "--gradient_accumulation_steps" in text and time.perf_counter() - start < 120
    )
