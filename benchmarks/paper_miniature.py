"""A miniature of the BioInstruct paper's experiment (Tran et al., JAMIA 2024), on CPU.

Why: the paper's claim is "instruction tuning on teacher-written biomedical instructions helps on
QA". This runs the same chain at a size a laptop can do - instructions, LoRA SFT of a real small
instruct model (SmolLM2-135M-Instruct) with the library's recipe, base vs tuned on every QA
benchmark whose data is here plus held-out instructions - and prints it in the layout of the
paper's Table 1 with 95% CIs and the wall time of each stage. Whatever it shows is the result.

Instructions come from (first that applies), always on top of the 80 bundled seed tasks:
  --data PATH          an existing `bioinstruct generate` folder or an instruction file;
  --base-url URL       a teacher (any OpenAI-compatible server), time-boxed by --generate-minutes;
  --generate-minutes 0 nothing: the seed tasks alone;
  (default)            the small model itself as the teacher, served by `transformers serve` on
                       127.0.0.1 (three seeds per prompt, two new tasks per reply, sampling, the
                       bundled generate_small.jinja prompt), for --generate-minutes.

  python benchmarks/paper_miniature.py --data-file medqa=medqa.jsonl --data-file pubmedqa=pubmedqa.jsonl \
      --data-file medmcqa=medmcqa.jsonl --output-dir runs/miniature
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

TABLE1_COLUMNS = {
    "medqa": "MedQA-USMLE",
    "medmcqa": "MedMCQA",
    "pubmedqa": "PubMedQA",
    "bioasq": "BioASQ MCQA",
    "mednli": "MedNLI",
}
HELD_OUT = "instructions"
PAPER_CSV = Path(__file__).resolve().parents[2] / "shared" / "paper" / "bioinstruct_results_tables.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="runs/paper-miniature")
    parser.add_argument("--model", default="smollm2", help="Base model (default: SmolLM2-135M-Instruct).")
    parser.add_argument("--data", default=None, help="A `generate` folder or an instruction file.")
    parser.add_argument("--base-url", default=None, help="Teacher endpoint (OpenAI-compatible).")
    parser.add_argument("--teacher-model", default="gpt-4")
    parser.add_argument(
        "--generate-minutes", type=float, default=10.0, help="Time box of the teacher run (0: seeds only)."
    )
    parser.add_argument("--num-instructions", type=int, default=200)
    parser.add_argument("--data-file", action="append", metavar="NAME=PATH", default=[])
    parser.add_argument("--qa-limit", type=int, default=100, help="Seeded sample per QA benchmark.")
    parser.add_argument("--heldout", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None, help="Training steps (default: the recipe's).")
    parser.add_argument(
        "--paper-csv", default=str(PAPER_CSV), help="The paper's tables, to print beside ours."
    )
    return parser.parse_args(argv)


def instructions(args: argparse.Namespace, out: Path) -> tuple[list[dict], str]:
    from bioinstruct.generation.seeds import load_seed_tasks
    from bioinstruct.jsonio import read_records

    if args.data:
        path = Path(args.data)
        path = path / "instructions.jsonl" if path.is_dir() else path
        return [dict(r) for r in read_records(path)], f"{path}"
    seeds = [dict(r) for r in load_seed_tasks(None)]
    if args.generate_minutes <= 0:
        return seeds, "the 80 bundled seed tasks"
    if args.base_url:
        generated = generate(args, out, args.base_url, args.teacher_model, {})
        return (
            seeds + generated,
            f"80 seed tasks + {len(generated)} from {args.teacher_model} at {args.base_url}",
        )
    from bioinstruct.models import resolve_model
    from bioinstruct.testing.transformers_serve import TransformersServer

    with TransformersServer(resolve_model(args.model), sampling=True) as server:
        small_teacher = dict(  # what tests/generation/test_real_teacher.py runs the small model with
            num_prompt_seeds=3,
            tasks_per_prompt=5,
            max_tokens=200,
            prompt_template="generate_small.jinja",
            timeout=900.0,
            max_concurrency=1,
        )
        generated = generate(args, out, server.base_url, server.model_id, small_teacher)
    return (
        seeds + generated,
        f"80 seed tasks + {len(generated)} written by {args.model} itself (transformers serve)",
    )


def generate(args: argparse.Namespace, out: Path, base_url: str, model: str, options: dict) -> list[dict]:
    """Run the builder against ``base_url`` for at most --generate-minutes (the time box is a Ctrl-C,
    which the builder survives with everything kept so far)."""
    from bioinstruct.generation.builder import BioInstructBuilder

    builder = BioInstructBuilder(
        output_dir=out / "generate",
        teacher_model=model,
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or "local",
        progress=True,
        zero_yield_replies=0,  # the time box ends the run
        **options,
    )
    # The time box is a SIGTERM, which the builder stops on like Ctrl-C (everything kept, resumable).
    # Not SIGINT: a job started in the background (nohup, CI) inherits SIGINT ignored, and then
    # neither a SIGINT nor _thread.interrupt_main() does anything (a 6-minute box ran on).
    timer = threading.Timer(args.generate_minutes * 60, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        builder.build(num_instructions=args.num_instructions)
    except KeyboardInterrupt:
        print(f"generation stopped after the {args.generate_minutes:g}-minute time box", flush=True)
    finally:
        timer.cancel()
    return builder.rows(limit=args.num_instructions)


def table(results: list, names: list[str]) -> list[str]:
    """Table 1's layout: a row per model, a column per benchmark, accuracy (%) +- 95% CI half-width."""
    columns = [TABLE1_COLUMNS.get(n, n) for n in names if n != HELD_OUT] + ["Held-out instr. (ROUGE-L)"]
    order = [n for n in names if n != HELD_OUT] + [HELD_OUT]
    lines = ["| Model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for adapter in (None, "tuned"):
        cells = []
        for name in order:
            r = next(
                (r for r in results if r.benchmark == name and (r.adapter is None) == (adapter is None)), None
            )
            if r is None:
                cells.append("–")
                continue
            scale = 100.0
            half = (r.ci[1] - r.ci[0]) / 2 * scale if r.ci else float("nan")
            cells.append(f"{r.score * scale:.2f} ± {half:.2f}")
        label = "SmolLM2-135M-Instruct" + (" + BioInstruct LoRA (miniature)" if adapter else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def paper_rows(csv_path: str, names: list[str]) -> list[str]:
    """The paper's LLaMA 1 7B rows (base and BioInstruct-tuned) in the same columns, for scale."""
    path = Path(csv_path)
    if not path.is_file():
        return []
    values: dict[tuple[str, str], str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(",")
        if len(parts) == 7 and parts[0] == "T1":
            values[(parts[2], parts[3])] = f"{parts[5]} ± {parts[6]}"
    cols = [TABLE1_COLUMNS[n] for n in names if n in TABLE1_COLUMNS]
    return [
        f"| paper: {model} | " + " | ".join(values.get((model, c), "–") for c in cols) + " | – |"
        for model in ("LLaMA 1 7B", "LLaMA 1 7B Instruct")
    ]


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from bioinstruct.cli_args import parse_name_path_pairs
    from bioinstruct.commands.train import main as train_main
    from bioinstruct.evaluation.evaluator import Evaluator
    from bioinstruct.quickstart import _split_step
    from bioinstruct.quickstart_model import REAL_RECIPE, recipe_steps, sample_qa_files
    from bioinstruct.quickstart_verdict import verdict_lines
    from bioinstruct.resources import data_path

    args = parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    qa_files = parse_name_path_pairs(args.data_file)
    unknown = sorted(set(qa_files) - set(TABLE1_COLUMNS))
    if unknown:
        print(
            f"error: --data-file {unknown[0]}=...: expected one of {', '.join(TABLE1_COLUMNS)}",
            file=sys.stderr,
        )
        return 2
    wall: dict[str, float] = {}

    start = time.perf_counter()
    rows, source = instructions(args, out)
    train_file, heldout_file = _split_step(rows, args.heldout, out / "data")
    wall["data"] = time.perf_counter() - start

    start = time.perf_counter()
    recipe = data_path("recipes", REAL_RECIPE)
    steps = args.steps or recipe_steps(recipe)
    adapter = out / "adapter"
    code = train_main(
        [
            "--config",
            str(recipe),
            "--model_name_or_path",
            args.model,
            "--dataset_name",
            str(train_file),
            "--output_dir",
            str(adapter),
            "--max_steps",
            str(steps),
            "--logging_steps",
            "4",
            "--report_to",
            "none",
        ],
        prog="paper_miniature",
    )
    if code:
        return code
    wall["train"] = time.perf_counter() - start

    start = time.perf_counter()
    sampled = sample_qa_files(qa_files, args.qa_limit, out / "data" / "qa-sample")
    names = [n for n in TABLE1_COLUMNS if n in sampled] + [HELD_OUT]
    evaluator = Evaluator(args.model, adapters=[f"tuned={adapter}"], cache_dir=out / "eval" / "cache")
    results = evaluator.run(
        names, limit=args.qa_limit, data_files={**sampled, HELD_OUT: str(heldout_file)}, template="chat"
    )
    results.save(out / "eval")
    wall["evaluate"] = time.perf_counter() - start

    lines = [
        f"Instructions: {source} ({len(rows) - args.heldout} train, {args.heldout} held out); "
        f"LoRA {steps} steps ({recipe.name}); zero-shot log-likelihood QA on a seeded sample of at most "
        f"{args.qa_limit} items, chat template for base and tuned alike.",
        "",
        *table(results.results, names),
        *paper_rows(args.paper_csv, names),
        "",
        *verdict_lines(out / "eval"),
        "",
        "Wall time: " + ", ".join(f"{stage} {seconds / 60:.1f} min" for stage, seconds in wall.items()),
    ]
    text = "\n".join(lines)
    (out / "table1.md").write_text(text + "\n", encoding="utf-8")
    (out / "timings.json").write_text(json.dumps(wall, indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
