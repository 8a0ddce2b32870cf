"""The LoRA/QLoRA SFT recipe: data -> pre-flight -> TRL ``SFTTrainer`` + PEFT -> verified adapter.

Why a recipe module and not a trainer subclass zoo: TRL already does the training; we add
what users get wrong when they stitch TRL examples together. Pre-flight checks run before
anything is written; the tokenizer never pads with EOS; the loss is on the response and its
EOS only; a rerun resumes from the last complete checkpoint; the saved adapter is checked
for the ZeRO-3 empty-tensor trap and removed (never left looking finished) when broken.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.formatting import format_dataset, template_note
from bioinstruct.models import resolve_model
from bioinstruct.offline import ensure_offline_mode_if_unreachable
from bioinstruct.threads import configure_cpu_threads
from bioinstruct.training import data as training_data
from bioinstruct.training import memory_plan, preflight
from bioinstruct.training.model_card import card_context, write_model_card
from bioinstruct.training.recipe_file import effective_recipe

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json")


class TrainingOutputError(BioInstructError):
    """The saved model or adapter is unusable (e.g. empty tensors after ZeRO-3)."""


@dataclass
class PreparedData:
    train: Any
    eval: Any | None
    train_rows: int
    eval_rows: int


def find_resumable_checkpoint(output_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` whose ``trainer_state.json`` was written (saved last, so complete)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (match := _CHECKPOINT.match(path.name))
    )
    for _step, path in reversed(steps):
        if (path / "trainer_state.json").is_file():
            return str(path)
        logger.warning(
            "skipping incomplete checkpoint %s (no trainer_state.json; killed while saving?)", path
        )
    return None


def load_tokenizer(model_args: Any, training_args: Any, fix_pad_token: bool):
    """Load the tokenizer; give it a pad token distinct from EOS. Returns ``(tokenizer, tokens_added)``."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    except OSError as err:
        raise ConfigError(
            f"could not load a tokenizer from {model_args.model_name_or_path!r}: not a local model folder, and not "
            "reachable on the Hub (offline, gated or misspelled?)"
        ) from err
    if training_args.chat_template_path:
        tokenizer.chat_template = Path(training_args.chat_template_path).read_text(encoding="utf-8")
    if training_args.eos_token:
        tokenizer.eos_token = training_args.eos_token
    preflight.check_pad_token(tokenizer, fix_pad_token)
    added = 0
    if preflight.pad_token_needs_fix(tokenizer):
        if tokenizer.unk_token is not None and tokenizer.unk_token_id != tokenizer.eos_token_id:
            logger.info("tokenizer pads with EOS or not at all; padding with %r instead", tokenizer.unk_token)
            tokenizer.pad_token = tokenizer.unk_token
        else:
            added = tokenizer.add_special_tokens({"pad_token": "<pad>"})
            logger.info("added a <pad> token to the tokenizer (embeddings will be resized)")
    return tokenizer, added


def prepare_data(script_args: Any, training_args: Any, tokenizer: Any) -> PreparedData:
    """Load, validate, filter, split and format the instruction data."""
    source = script_args.dataset_name
    train, test = training_data.load_instruction_splits(
        source,
        config=script_args.dataset_config,
        train_split=script_args.dataset_train_split,
        test_split=script_args.dataset_test_split,
    )
    training_data.validate_rows(train, source)
    train = training_data.filter_categories(train, script_args.categories, source)
    if script_args.max_train_samples:
        train = train.select(range(min(script_args.max_train_samples, len(train))))
    if test is None and script_args.eval_split_size:
        train, test = training_data.hold_out(train, script_args.eval_split_size, training_args.seed)
    elif test is not None:
        training_data.validate_rows(test, f"{source} [{script_args.dataset_test_split}]")
        test = training_data.filter_categories(test, script_args.categories, source)
    preflight.check_evaluation(training_args, test is not None)
    template, assistant_only = script_args.prompt_template, training_args.assistant_only_loss
    formatted_test = format_dataset(test, template, assistant_only) if test is not None else None
    return PreparedData(
        train=format_dataset(train, template, assistant_only),
        eval=formatted_test,
        train_rows=len(train),
        eval_rows=len(test) if test is not None else 0,
    )


def _model_init_kwargs(model_args: Any, training_args: Any) -> dict[str, Any]:
    kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    if model_args.load_in_4bit or model_args.load_in_8bit:
        from trl import get_kbit_device_map

        kwargs["device_map"] = get_kbit_device_map()
    kwargs.update(training_args.model_init_kwargs or {})
    return kwargs


def _trainer_class():
    from trl import SFTTrainer

    class BioInstructSFTTrainer(SFTTrainer):
        """``SFTTrainer`` whose model card (checkpoints, final save, Hub push) is the BioInstruct card."""

        card_context: dict[str, Any] | None = None

        def create_model_card(self, model_name=None, dataset_name=None, tags=None):  # noqa: ARG002 - TRL's signature
            if not self.is_world_process_zero() or self.card_context is None:
                return
            context = dict(self.card_context)
            losses = [entry["train_loss"] for entry in self.state.log_history if "train_loss" in entry]
            if losses:
                context["results"] = {
                    "global_step": self.state.global_step,
                    "train_loss": round(losses[-1], 4),
                }
            write_model_card(self.args.output_dir, context, self.state.log_history)

    return BioInstructSFTTrainer


def build_trainer(script_args: Any, training_args: Any, model_args: Any, model: Any = None):
    """Run the pre-flight checks, then build the TRL trainer (nothing is written yet).

    ``model``: a model already in memory (benchmarks/sft_throughput.py's randomly initialised
    7B-shaped Llama); ``model_args.model_name_or_path`` then names only its tokenizer."""
    from trl import get_peft_config, get_quantization_config

    ensure_offline_mode_if_unreachable()  # examples/sft.py bypasses the CLI: no minute of Hub retries
    recipe = effective_recipe(script_args, training_args, model_args)  # before the build fills in fields
    preflight.run_model_free_checks(script_args, training_args, model_args)
    # A .gguf file or "smollm2" becomes a local HF folder (converted once), like --model elsewhere.
    model_args.model_name_or_path = resolve_model(model_args.model_name_or_path)
    if model is None:  # on CUDA: one warning now, not an out-of-memory error at the first step
        memory_plan.warn_if_too_big(training_args, model_args)
    tokenizer, added_tokens = load_tokenizer(model_args, training_args, script_args.fix_pad_token)
    preflight.check_template(script_args.prompt_template, tokenizer, training_args.assistant_only_loss)
    note = template_note(script_args.prompt_template, tokenizer)
    if note:
        logger.warning(note)
    prepared = prepare_data(script_args, training_args, tokenizer)

    # CPU runs: torch's threads = the CPUs this process may use / local ranks, unless OMP_NUM_THREADS is set.
    threads = configure_cpu_threads(str(training_args.device))
    if threads["device"] == "cpu":
        logger.info("torch intra-op threads: %d (%s)", threads["intra_op_threads"], threads["source"])
    init_kwargs = _model_init_kwargs(model_args, training_args)
    if model is not None:
        pass
    elif added_tokens:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, **init_kwargs)
        model.resize_token_embeddings(len(tokenizer))
    else:
        model = model_args.model_name_or_path
        training_args.model_init_kwargs = init_kwargs

    trainer = _trainer_class()(
        model=model,
        args=training_args,
        train_dataset=prepared.train,
        eval_dataset=prepared.eval,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        quantization_config=get_quantization_config(model_args) if isinstance(model, str) else None,
    )
    trainer.card_context = card_context(
        script_args, training_args, model_args, train_rows=prepared.train_rows, eval_rows=prepared.eval_rows
    )
    trainer.card_context["recipe"] = recipe
    trainer.card_context["cpu_threads"] = threads
    return trainer


def verify_adapter(output_dir: str | Path) -> Path:
    """Check the saved adapter loads and holds non-empty LoRA tensors; delete it when it does not.

    Why: under ZeRO-3 an adapter saved without gathering the partitioned weights holds
    tensors of shape ``[0]``; it loads without error and silently does nothing.
    """
    import json

    from safetensors.torch import load_file

    folder = Path(output_dir)
    weights = folder / "adapter_model.safetensors"
    problem = None
    try:
        json.loads((folder / "adapter_config.json").read_text())
        tensors = load_file(str(weights))
    except (OSError, ValueError) as err:
        problem = f"cannot read the adapter ({type(err).__name__}: {err})"
    else:
        empty = [name for name, tensor in tensors.items() if tensor.numel() == 0]
        if not tensors:
            problem = "the adapter file holds no tensors"
        elif empty:
            problem = (
                f"{len(empty)} of {len(tensors)} adapter tensors are empty (e.g. {empty[0]}): the ZeRO-3 trap; "
                "set `zero3_save_16bit_model: true` in the accelerate DeepSpeed config"
            )
        elif not any("lora_" in name for name in tensors):
            problem = "the adapter file holds no LoRA weights"
    if problem:
        for name in ADAPTER_FILES:
            (folder / name).unlink(missing_ok=True)
        raise TrainingOutputError(f"adapter in {str(folder)!r} is unusable and was removed: {problem}")
    return weights


def merge_adapter(output_dir: str | Path, model_args: Any, training_args: Any) -> Path:
    """Write ``output_dir/merged``: the base model (full precision) with the adapter folded in."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output_dir = Path(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    base = AutoModelForCausalLM.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        dtype=model_args.dtype if model_args.dtype not in (None, "auto") else "auto",
    )
    if base.get_input_embeddings().weight.shape[0] != len(tokenizer):
        base.resize_token_embeddings(len(tokenizer))
    merged = PeftModel.from_pretrained(base, str(output_dir)).merge_and_unload()
    target = output_dir / "merged"
    merged.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    logger.info("merged model written to %s", target)
    return target


def train(script_args: Any, training_args: Any, model_args: Any) -> Path:
    """Train, save, verify, (merge), (push). Returns the output directory."""
    trainer = build_trainer(script_args, training_args, model_args)
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint is None and script_args.auto_resume:
        checkpoint = find_resumable_checkpoint(training_args.output_dir)
        if checkpoint:
            logger.info("resuming from checkpoint %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    output_dir = Path(training_args.output_dir)
    trainer.save_model(str(output_dir))  # every rank: ZeRO-3 gathers the partitioned weights here
    if trainer.accelerator.is_main_process:
        if model_args.use_peft:
            verify_adapter(output_dir)
        trainer.save_state()  # trainer_state.json in output_dir too: the card's loss curve
        trainer.create_model_card()
        if script_args.merge_adapter and model_args.use_peft:
            merge_adapter(output_dir, model_args, training_args)
    trainer.accelerator.wait_for_everyone()
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
        logger.info("pushed to https://huggingface.co/%s", trainer.hub_model_id)
    if hasattr(trainer, "end"):
        trainer.end()
    return output_dir
