"""``bioinstruct quickstart``: the whole training stage, offline, on CPU, in about a minute.

Why: a newcomer should see the real recipe run end to end before renting a GPU. It builds a
tiny random Llama locally (no download), then trains a LoRA adapter on the 80 bundled seed
tasks through exactly the code that ``accelerate launch examples/sft.py`` runs for 7B models,
with the bundled ``tiny-cpu.yaml`` recipe; only the model, device and step count differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bioinstruct.resources import data_path, package_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        default="runs/quickstart",
        help="Where the tiny model and the adapter go (default: %(default)s).",
    )
    parser.add_argument("--steps", type=int, default=30, help="Training steps (default: %(default)s).")


def run(args: argparse.Namespace) -> int:
    from bioinstruct.training.cli import main as train_main
    from bioinstruct.training.tiny import build_tiny_llama

    output_dir = Path(args.output_dir)
    model_dir = output_dir / "tiny-llama"
    if not (model_dir / "config.json").is_file():
        print(f"[1/2] building a tiny random Llama (weights + BPE vocabulary) in {model_dir}")
        build_tiny_llama(model_dir)
    print("[2/2] LoRA fine-tuning it on the 80 bundled seed tasks (TRL SFTTrainer + PEFT, CPU)")
    code = train_main(
        [
            "--config",
            str(data_path("recipes", "tiny-cpu.yaml")),
            "--model_name_or_path",
            str(model_dir),
            "--dataset_name",
            str(package_file("generation", "seed_tasks.jsonl")),
            "--output_dir",
            str(output_dir / "adapter"),
            "--max_steps",
            str(args.steps),
            "--disable_tqdm",
            "true",
        ],
        prog="bioinstruct quickstart",
    )
    if code == 0:
        print(
            f"done: adapter, tokenizer and model card in {output_dir / 'adapter'}. The same recipe on a GPU:\n"
            "  accelerate launch --config_file accelerate_configs/single_gpu.yaml examples/sft.py "
            "--config examples/recipes/llama2-7b-bioinstruct.yaml"
        )
    return code
