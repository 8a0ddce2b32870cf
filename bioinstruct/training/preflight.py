"""Checks that fail fast, with one clear message, before a GPU hour is spent.

Why: each of these traps otherwise surfaces late (after the model loaded, after the first
checkpoint, or never: a model that cannot stop generating). Every check is a small function
that raises :class:`~bioinstruct.errors.ConfigError` or :class:`~bioinstruct.errors.DataError`
and is called before anything is written to ``output_dir``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.formatting import CHAT_TEMPLATE_NAME, check_template_name


def deepspeed_zero_stage(training_args: Any) -> int | None:
    """The ZeRO stage in use: from ``--deepspeed`` (file or dict) or from ``accelerate launch``'s env."""
    config = getattr(training_args, "deepspeed", None)
    if isinstance(config, str) and config:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"DeepSpeed config {config!r} does not exist")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"DeepSpeed config {config!r} is not valid JSON: {err}") from err
    if isinstance(config, dict):
        stage = config.get("zero_optimization", {}).get("stage")
        return int(stage) if stage is not None else None
    env_stage = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and env_stage:
        return int(env_stage)
    return None


def check_template(template: str, tokenizer: Any, assistant_only_loss: bool) -> None:
    """Known template; ``chat`` needs a chat template; ``assistant_only_loss`` needs generation markers."""
    check_template_name(template)
    if template == CHAT_TEMPLATE_NAME and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "prompt_template 'chat' needs a tokenizer with a chat template; this tokenizer has none "
            "(set `chat_template_path`, or use prompt_template 'bioinstruct')"
        )
    if assistant_only_loss:
        if template != CHAT_TEMPLATE_NAME:
            raise ConfigError(
                "assistant_only_loss works on conversations only: use prompt_template 'chat', or leave it off "
                f"(the {template!r} template already trains on the response only)"
            )
        if (
            "{% generation %}" not in tokenizer.chat_template
            and "{%- generation %}" not in tokenizer.chat_template
        ):
            raise ConfigError(
                "assistant_only_loss needs a chat template that wraps the assistant turn in "
                "{% generation %} ... {% endgeneration %} markers; this tokenizer's template has none "
                "(leave assistant_only_loss off: completion-only loss is the default)"
            )


def pad_token_needs_fix(tokenizer: Any) -> bool:
    """True when padding would reuse EOS (or there is no pad token at all)."""
    return tokenizer.pad_token_id is None or tokenizer.pad_token_id == tokenizer.eos_token_id


def check_pad_token(tokenizer: Any, fix_pad_token: bool) -> None:
    if tokenizer.eos_token_id is None:
        raise ConfigError(
            "the tokenizer has no EOS token; the model could never learn to stop (set `eos_token`)"
        )
    if pad_token_needs_fix(tokenizer) and not fix_pad_token:
        what = "no pad token" if tokenizer.pad_token_id is None else f"pad == eos ({tokenizer.eos_token!r})"
        raise ConfigError(
            f"the tokenizer has {what}: the model would not learn to stop. Set fix_pad_token: true "
            "(uses <unk> or adds <pad>) or give the tokenizer a distinct pad token"
        )


def check_quantization(model_args: Any, training_args: Any) -> None:
    """QLoRA needs bitsandbytes and a GPU, and does not combine with ZeRO-3."""
    if not (model_args.load_in_4bit or model_args.load_in_8bit):
        return
    if not model_args.use_peft:
        raise ConfigError("load_in_4bit/load_in_8bit (QLoRA) trains a LoRA adapter: set use_peft: true")
    if deepspeed_zero_stage(training_args) == 3:
        raise ConfigError(
            "QLoRA (load_in_4bit/8bit) cannot be combined with DeepSpeed ZeRO-3: the quantized weights cannot be "
            "partitioned. Use deepspeed_zero2.yaml or multi_gpu.yaml, or drop load_in_4bit"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("QLoRA needs bitsandbytes: pip install 'bioinstruct[qlora]' (on a CUDA machine)")
    import torch

    if getattr(training_args, "use_cpu", False) or not torch.cuda.is_available():
        raise ConfigError("QLoRA (4-bit/8-bit bitsandbytes) needs a CUDA GPU; on CPU, drop load_in_4bit")


def check_evaluation(training_args: Any, has_eval_data: bool) -> None:
    strategy = str(getattr(training_args.eval_strategy, "value", training_args.eval_strategy))
    if strategy != "no" and not has_eval_data:
        raise ConfigError(
            f"eval_strategy is {strategy!r} but there is no evaluation data: set eval_split_size, or give a dataset "
            "with a test split (dataset_test_split)"
        )


def check_precision(training_args: Any) -> None:
    import torch

    cpu = getattr(training_args, "use_cpu", False) or not torch.cuda.is_available()
    if cpu and getattr(training_args, "fp16", False):
        raise ConfigError("fp16 needs a CUDA GPU; on CPU set fp16: false (and bf16: false)")


def run_model_free_checks(script_args: Any, training_args: Any, model_args: Any) -> None:
    """The checks that need neither the tokenizer nor the data (cheapest first)."""
    if not model_args.model_name_or_path:
        raise ConfigError("no base model: set `model_name_or_path` (a Hub id or a local folder)")
    check_template_name(script_args.prompt_template)
    if getattr(script_args, "dataset_streaming", False):
        raise ConfigError(
            "dataset_streaming is not supported by the recipe: row validation, the category filter and the "
            "held-out split need the whole dataset (instruction datasets fit in memory)"
        )
    check_quantization(model_args, training_args)
    check_precision(training_args)
    if (
        training_args.packing
        and script_args.prompt_template == CHAT_TEMPLATE_NAME
        and training_args.assistant_only_loss
    ):
        raise ConfigError(
            "packing with assistant_only_loss is not supported; use completion-only loss (default)"
        )
