"""The GPU check (issue 16): training throughput, a ZeRO-3 + LoRA run, evaluator throughput, one table.

Why one script: a GPU is lent for minutes at a time, so everything worth measuring on it must run
in one call, with nothing downloaded (the machine reaches no network), and must not have rotted
since it was written: CI runs it with ``--reduced`` (tiny sizes, CPU). Run by
``benchmarks/gpu_check.sh``, which first installs the carried wheels.

Steps (each a subprocess; a failed step is reported, the others still run):

1. ``sft_throughput``: the recipe vs TRL's defaults on a randomly initialised model of the real
   Llama-2-7B shape in bf16 (``--reduced``: the tiny test model on CPU), tokens/s and peak memory.
2. ``zero3``: ``accelerate launch`` with ``accelerate_configs/deepspeed_zero3.yaml`` on one process,
   LoRA, a randomly initialised model of SmolLM2-135M's shape (the real weights cannot travel to
   the GPU machine), ending with the adapter contract (a non-empty ``adapter_model.safetensors``).
3. ``evaluator``: log-likelihood scoring of the MedQA fixture rows on the same model: items/s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
#: SmolLM2-135M's shape (its config.json), randomly initialised, with the test tokenizer
SMALL_SHAPE = {"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
               "intermediate_size": 1536, "vocab_size": 512, "max_position_embeddings": 2048}  # fmt: skip


def _run(name: str, command: list[str], out: Path, timeout: float) -> dict[str, Any]:
    start = time.perf_counter()
    log = out / f"{name}.log"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)
        log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
        ok, tail = done.returncode == 0, done.stderr.strip().splitlines()[-1:] if done.returncode else []
    except subprocess.TimeoutExpired:
        ok, tail = False, [f"timed out after {timeout:.0f} s"]
    return {
        "step": name,
        "ok": ok,
        "seconds": round(time.perf_counter() - start, 1),
        "error": " ".join(tail)[:300],
    }


def _model(out: Path, reduced: bool) -> Path:
    from bioinstruct.training.tiny import build_tiny_llama

    return build_tiny_llama(out / "model", **({} if reduced else SMALL_SHAPE))


def throughput(out: Path, reduced: bool) -> dict[str, Any]:
    sizes = ["--model", "tiny", "--steps", "3", "--max-length", "128", "--rows", "24"] if reduced else \
        ["--model", "llama2-7b", "--steps", "10", "--max-length", "1024"]  # fmt: skip
    command = [sys.executable, "benchmarks/sft_throughput.py", *sizes, "--json", str(out / "throughput.json")]
    result = _run("sft_throughput", command, out, timeout=600)
    if result["ok"]:
        result["results"] = json.loads((out / "throughput.json").read_text())["results"]
    return result


def zero3(out: Path, model: Path, reduced: bool) -> dict[str, Any]:
    recipe = {"model_name_or_path": str(model), "dataset_name": "bioinstruct/generation/seed_tasks.jsonl",
              "prompt_template": "bioinstruct", "max_length": 256, "max_steps": 4, "save_steps": 4,
              "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "logging_steps": 1,
              "output_dir": str(out / "zero3"), "report_to": "none", "use_cpu": reduced, "bf16": not reduced}  # fmt: skip
    (out / "zero3.yaml").write_text(yaml.safe_dump(recipe))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               "accelerate_configs/deepspeed_zero3.yaml", "--num_processes", "1",
               *(["--mixed_precision", "no"] if reduced else []), "examples/sft.py", "--config", str(out / "zero3.yaml")]  # fmt: skip
    result = _run("zero3", command, out, timeout=600)
    if result["ok"]:
        from bioinstruct.training.recipe import verify_adapter

        adapter = verify_adapter(out / "zero3")
        result["adapter_bytes"] = adapter.stat().st_size
    return result


def evaluator(out: Path, model: Path, reduced: bool) -> dict[str, Any]:
    script = (
        "import json, sys, time\n"
        "from bioinstruct.evaluation.evaluator import Evaluator\n"
        "start = time.perf_counter()\n"
        f"results = Evaluator(model={str(model)!r}, progress=False).run('medqa', protocol='loglik', "
        "data_files={'medqa': 'tests/fixtures/bionlp/medqa.jsonl'})\n"
        "seconds = time.perf_counter() - start\n"
        "result = results.get('medqa')\n"
        "print(json.dumps({'items': result.n, 'seconds': seconds}))\n"
    )
    result = _run("evaluator", [sys.executable, "-c", script], out, timeout=300)
    if result["ok"]:
        measured = json.loads(
            (out / "evaluator.log").read_text().split("\n--- stderr ---")[0].strip().splitlines()[-1]
        )
        result["items_per_s"] = measured["items"] / measured["seconds"]
        result["items"] = measured["items"]
    return result


def table(steps: list[dict[str, Any]], device: str) -> str:
    lines = [
        f"GPU check on {device}, {time.strftime('%Y-%m-%d')}",
        "",
        "| step | result | figures |",
        "|---|---|---|",
    ]
    for step in steps:
        figures = step.get("error", "")
        if step["ok"] and step["step"] == "sft_throughput":
            base = step["results"][0]["tokens_per_s"]
            figures = "; ".join(f"{r['variant']}: {r['tokens_per_s']:,.0f} tok/s ({r['tokens_per_s'] / base:.2f}x), "
                                f"peak {r['peak_memory_mb']:,.0f} MB, loss {r['final_loss']:.3f}" for r in step["results"])  # fmt: skip
        elif step["ok"] and step["step"] == "zero3":
            figures = f"adapter {step['adapter_bytes']:,} bytes"
        elif step["ok"] and step["step"] == "evaluator":
            figures = f"{step['items']} MedQA items, {step['items_per_s']:.1f} items/s (log-likelihood)"
        lines.append(
            f"| {step['step']} | {'ok' if step['ok'] else 'FAILED'} ({step['seconds']} s) | {figures} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="Tiny sizes on CPU (what CI runs).")
    parser.add_argument("--out", type=Path, required=True, help="Folder for logs, JSON and the table.")
    args = parser.parse_args(argv)
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    if not args.reduced and device == "cpu":
        raise SystemExit("no GPU visible: run with --reduced for the CPU smoke run")
    model = _model(args.out, args.reduced)
    steps = [throughput(args.out, args.reduced), zero3(args.out, model, args.reduced),
             evaluator(args.out, model, args.reduced)]  # fmt: skip
    summary = table(steps, device)
    (args.out / "gpu_check.md").write_text(summary)
    (args.out / "gpu_check.json").write_text(json.dumps({"device": device, "steps": steps}, indent=2))
    print(summary)
    return 0 if all(step["ok"] for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
