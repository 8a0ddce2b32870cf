"""``bioinstruct train --dry-run`` and the pre-launch warning: the memory estimate for a recipe.

Why its own module: :mod:`bioinstruct.training.memory` is the arithmetic on a model config; this
reads the recipe's settings (the ZeRO stage the way the pre-flight checks do, the GPU count from
``WORLD_SIZE``), loads only ``config.json`` (never weights), asks CUDA what is free and says which
single change (the "lever") would make a run that does not fit fit, with its new estimate.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.training import preflight
from bioinstruct.training.memory import GIB, MemoryEstimate, estimate_memory

logger = logging.getLogger(__name__)

SMALL_MODEL_ALIASES = {"smollm2", "small-instruct"}


def _config_source(name: str) -> tuple[str, dict[str, Any]]:
    """Where ``AutoConfig`` finds the config of ``name``, without converting or loading weights."""
    from bioinstruct import models

    if name in SMALL_MODEL_ALIASES:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(models.SMALL_INSTRUCT_HUB_ID, "config.json")
        if isinstance(cached, str):
            return str(Path(cached).parent), {}
        gguf = models.installed_gguf()
        if gguf is None:
            return models.SMALL_INSTRUCT_HUB_ID, {}
        name = str(gguf)
    if name.lower().endswith(".gguf") and Path(name).is_file():
        converted = models.converted_folder(name)
        if (converted / "config.json").is_file():
            return str(converted), {}
        return str(Path(name).parent), {"gguf_file": Path(name).name}
    return name, {}


def load_model_config(name: str, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """The model's ``transformers`` config (a local folder, a cached Hub id, ``smollm2``, a .gguf)."""
    from transformers import AutoConfig

    source, extra = _config_source(name)
    try:
        return AutoConfig.from_pretrained(
            source, revision=revision, trust_remote_code=trust_remote_code, **extra
        )
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"no model config for {name!r}: not a local folder with config.json, not in the Hugging Face cache "
            "and not reachable on the Hub (offline, gated or misspelled?)"
        ) from err


def estimate_for_run(training_args: Any, model_args: Any, model_config: Any) -> MemoryEstimate:
    """The estimate for these recipe settings; ZeRO stage from the DeepSpeed config or accelerate's env."""
    dtype = model_args.dtype
    if dtype in (None, "auto"):
        dtype = (
            getattr(model_config, "dtype", None) or getattr(model_config, "torch_dtype", None) or "float32"
        )
    return estimate_memory(
        model_config,
        lora_r=model_args.lora_r if model_args.use_peft else None,
        lora_targets=model_args.lora_target_modules,
        load_in_4bit=bool(model_args.load_in_4bit),
        load_in_8bit=bool(model_args.load_in_8bit),
        nested_quant=bool(model_args.use_bnb_nested_quant),
        dtype=dtype,
        seq_len=training_args.max_length or 1024,
        micro_batch=training_args.per_device_train_batch_size,
        gradient_checkpointing=bool(training_args.activation_checkpointing),
        zero_stage=preflight.deepspeed_zero_stage(training_args),
        num_gpus=int(os.environ.get("WORLD_SIZE") or 1),
        lora_dropout=model_args.lora_dropout if model_args.use_peft else 0.0,
        attn_implementation=model_args.attn_implementation,
    )


def levers(estimate: MemoryEstimate, budget: int) -> list[tuple[str, MemoryEstimate]]:
    """Single changes that lower the estimate, the biggest saving first (each with its new estimate)."""
    s = estimate.settings
    quantized = s["load_in_4bit"] or s["load_in_8bit"]
    stage, gpus = int(s["zero_stage"] or 0), int(s["num_gpus"] or 1)
    found = []
    if s["lora_r"] and not s["load_in_4bit"] and stage < 3:
        found.append(
            (
                "QLoRA (load_in_4bit: true)",
                estimate.with_changes(load_in_4bit=True, load_in_8bit=False, nested_quant=True),
            )
        )
    if not quantized:
        counts = [n for n in (2, 4, 8, 16) if n > gpus or stage < 3]
        for n in counts:
            candidate = estimate.with_changes(zero_stage=3, num_gpus=n)
            if candidate.total <= budget or n == counts[-1]:
                found.append((f"ZeRO-3 over {n} GPUs (accelerate_configs/deepspeed_zero3.yaml)", candidate))
                break
    if not s["gradient_checkpointing"]:
        found.append(("activation_checkpointing: true", estimate.with_changes(gradient_checkpointing=True)))
    for key, floor, text in (("micro_batch", 1, "per_device_train_batch_size: {} (more accumulation)"),
                             ("seq_len", 256, "max_length: {}")):  # fmt: skip
        value = s[key]
        while value // 2 >= floor:
            value //= 2
            if estimate.with_changes(**{key: value}).total <= budget:
                break
        if value != s[key]:
            found.append((text.format(value), estimate.with_changes(**{key: value})))
    return sorted(found, key=lambda item: item[1].total)


def visible_gpus(training_args: Any, device: int | None = None) -> list[tuple[int, str, int, int]]:
    """(index, name, free bytes, total bytes) per visible CUDA GPU (only ``device`` when given)."""
    if getattr(training_args, "use_cpu", False):
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    indices = range(torch.cuda.device_count()) if device is None else [device]
    return [(i, torch.cuda.get_device_name(i), *torch.cuda.mem_get_info(i)) for i in indices]


def parts(estimate: MemoryEstimate) -> list[tuple[str, int]]:
    """(label, bytes) of each part, for a table; parts that are 0 are left out."""
    s = estimate.settings
    lora = bool(s.get("lora_r"))
    weights = "4-bit NF4" if s.get("load_in_4bit") else "8-bit" if s.get("load_in_8bit") else s.get("dtype")
    rows = [
        (f"base weights ({weights}{', frozen' if lora else ''})", estimate.weights),
        ("ZeRO-3 gathered layers (2)", estimate.zero3_gather),
        ("LoRA params (fp32)" if lora else "trainable params", estimate.trainable_params),
        ("gradients", estimate.grads),
        ("Adam states (m, v" + (")" if lora else " + fp32 master)"), estimate.optimizer),
        (
            f"activations ({'checkpointed' if s.get('gradient_checkpointing') else 'no checkpointing'})",
            estimate.activations,
        ),
        ("logits (fp32, seq x vocab x batch)", estimate.logits),
        ("CUDA/framework overhead (constant)", estimate.overhead),
    ]
    return [(label, value) for label, value in rows if value]


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def does_not_fit_line(estimate: MemoryEstimate, free: int, where: str) -> str:
    """``estimate > free``: one line naming the biggest lever and its new estimate."""
    line = f"does not fit: {_gib(estimate.total)} per GPU > {_gib(free)} free on {where}"
    found = levers(estimate, free)
    if found:
        text, better = found[0]
        verdict = "fits" if better.total <= free else "still too big"
        line += f"; biggest lever: {text} -> {_gib(better.total)} ({verdict})"
    return line


def format_table(name: str, estimate: MemoryEstimate, gpus: list[tuple[int, str, int, int]]) -> str:
    s = estimate.settings
    if s["lora_r"]:
        what = f"LoRA r={s['lora_r']}, {estimate.trainable / 1e6:.1f}M trainable"
    else:
        what = "full fine-tuning"
    zero = f"ZeRO-{s['zero_stage']} over {s['num_gpus']} GPU(s)" if s["zero_stage"] else "no ZeRO"
    lines = [
        f"memory estimate for {name} (Llama-style decoder, {estimate.parameters / 1e9:.2f}B params): {what}; "
        f"seq {s['seq_len']} x micro-batch {s['micro_batch']}; {zero}",
    ]
    width = max(len(label) for label, _ in parts(estimate)) + 2
    lines += [f"  {label:<{width}}{_gib(value):>11}" for label, value in parts(estimate)]
    lines.append(f"  {'total per GPU':<{width}}{_gib(estimate.total):>11}")
    if not gpus:
        lines.append("no GPU visible: estimate only")
    for index, gpu_name, free, total in gpus:
        lines.append(f"GPU {index} {gpu_name}: {_gib(free)} free of {_gib(total)}")
    if gpus:
        index, _, free, _ = min(gpus, key=lambda gpu: gpu[2])
        lines.append("fits" if estimate.total <= free else does_not_fit_line(estimate, free, f"GPU {index}"))
    return "\n".join(lines)


def dry_run(script_args: Any, training_args: Any, model_args: Any) -> str:
    """Model-free pre-flight checks, the model's config only, the estimate table. Writes nothing."""
    from bioinstruct.offline import ensure_offline_mode_if_unreachable

    ensure_offline_mode_if_unreachable()
    preflight.run_model_free_checks(script_args, training_args, model_args)
    name = model_args.model_name_or_path
    config = load_model_config(name, model_args.model_revision, training_args.trust_remote_code)
    estimate = estimate_for_run(training_args, model_args, config)
    return format_table(name, estimate, visible_gpus(training_args))


def warn_if_too_big(training_args: Any, model_args: Any) -> str | None:
    """On CUDA, log one warning when the estimate exceeds this rank's free memory; never raises."""
    if getattr(training_args, "use_cpu", False):
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        config = load_model_config(
            model_args.model_name_or_path, model_args.model_revision, training_args.trust_remote_code
        )
        estimate = estimate_for_run(training_args, model_args, config)
        device = int(os.environ.get("LOCAL_RANK") or 0)
        [(_, _, free, _)] = visible_gpus(training_args, device)
    except Exception as err:  # noqa: BLE001 - an estimate must never stop a launch
        logger.debug("no memory estimate: %s", err)
        return None
    if estimate.total <= free:
        return None
    line = "memory estimate: " + does_not_fit_line(estimate, free, f"cuda:{device}")
    logger.warning(line)
    return line
