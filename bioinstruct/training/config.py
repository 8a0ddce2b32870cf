"""Training configuration: TRL's dataclasses, subclassed with a few fields and LoRA defaults.

Why subclasses: every TRL/transformers flag keeps working from YAML or the command line
(``TrlParser``), and we only add what the BioInstruct recipe needs: a local or Hub
instruction dataset, the paper's category ablation, the prompt template, adapter checks and
merging. The hyperparameter defaults below are the ONE place to change the recipe; the
YAML recipes only set the model, batch shape and output location.

The paper (Tran et al., JAMIA 2024) did not publish its LoRA hyperparameters. The defaults
are the common, well-tested choice for 7B-13B LLaMA LoRA SFT: r=16, alpha=32, dropout 0.05 on
all linear projections, lr 2e-4 with cosine decay and 3% warm-up, 3 epochs, 1,024 tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ModelConfig, ScriptArguments, SFTConfig, TrlParser

from bioinstruct.schemas import CATEGORIES


@dataclass
class BioInstructScriptArguments(ScriptArguments):
    """Data and run options on top of TRL's ``ScriptArguments`` (``dataset_name`` etc.)."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Instruction data: a Hub dataset id, a local JSON/JSONL file (a JSON list in Alpaca format "
            "works), a folder saved with `save_to_disk`, or a `bioinstruct generate` output folder "
            "(its instructions.jsonl). Rows need `instruction` and `output`; `input` and `category` are optional."
        },
    )
    categories: str | None = field(
        default=None,
        metadata={
            "help": f"Comma-separated categories to keep, from {', '.join(CATEGORIES)} (the paper's category "
            "ablation, e.g. `QA,IE`). Needs a `category` column. Default: all rows."
        },
    )
    prompt_template: str = field(
        default="bioinstruct",
        metadata={
            "help": "Prompt template: `bioinstruct` (the paper's Alpaca-style template with '### Output:'), "
            "`alpaca` (Stanford Alpaca verbatim) or `chat` (the tokenizer's chat template).",
            "choices": ["bioinstruct", "alpaca", "chat"],
        },
    )
    eval_split_size: float = field(
        default=0.0,
        metadata={
            "help": "Hold out this many rows (>= 1) or this fraction (< 1) of the training data for evaluation "
            "when the dataset has no `dataset_test_split`. 0 = no held-out split."
        },
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={"help": "Train on the first N rows only (after the category filter); for dry runs."},
    )
    fix_pad_token: bool = field(
        default=True,
        metadata={
            "help": "If the tokenizer has no pad token, or pad == eos (LLaMA tokenizers), use `<unk>` as pad, or add "
            "a `<pad>` token. With False, such a tokenizer is a pre-flight error."
        },
    )
    auto_resume: bool = field(
        default=True,
        metadata={"help": "Resume from the last checkpoint in `output_dir` when one exists."},
    )
    merge_adapter: bool = field(
        default=False,
        metadata={
            "help": "After training, also write the base model with the adapter merged in to `output_dir/merged`."
        },
    )
    dry_run: bool = field(
        default=False,
        metadata={
            "help": "Run the model-free pre-flight checks, load only the model's config and print the peak GPU "
            "memory estimate per GPU (weights, LoRA states, activations, logits) against the visible GPUs; "
            "then exit without loading weights or writing output_dir."
        },
    )


@dataclass
class BioInstructSFTConfig(SFTConfig):
    """TRL's ``SFTConfig`` with the BioInstruct LoRA recipe's defaults."""

    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (LoRA default 2e-4)."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Number of training epochs."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    warmup_ratio: float = field(
        default=0.03,
        metadata={
            "help": "Fraction of steps for linear warm-up (transformers 5 reads it as a float warmup_steps; "
            "an explicit warmup_steps wins)."
        },
    )
    max_length: int | None = field(
        default=1024, metadata={"help": "Maximum tokens per example (or per pack)."}
    )
    per_device_train_batch_size: int = field(
        default=4, metadata={"help": "Batch size per device for training."}
    )
    gradient_accumulation_steps: int = field(
        default=8, metadata={"help": "Steps to accumulate before an update."}
    )
    logging_steps: float = field(default=10, metadata={"help": "Log every N steps."})
    save_strategy: str = field(default="steps", metadata={"help": "When to save checkpoints."})
    save_steps: float = field(default=200, metadata={"help": "Save a checkpoint every N steps."})
    save_total_limit: int | None = field(default=3, metadata={"help": "Keep at most N checkpoints."})
    seed: int = field(
        default=42, metadata={"help": "Random seed (model init of LoRA weights, data order, splits)."}
    )
    # transformers hides the bar whenever its logger is above WARNING, which the CLI's quiet
    # console (bioinstruct.quiet) sets; the bar with its ETA is where a user looks.
    disable_tqdm: bool | None = field(
        default=False,
        metadata={
            "help": "Hide the training progress bar (shown by default, with the ETA; loss lines are logged)."
        },
    )

    def __post_init__(self) -> None:
        # transformers 5 dropped ``warmup_ratio`` (a float ``warmup_steps`` < 1 is the ratio now): without
        # this the recipe's 3% warm-up was silently no warm-up at all.
        if not self.warmup_steps and self.warmup_ratio:
            self.warmup_steps = float(self.warmup_ratio)
        super().__post_init__()


@dataclass
class BioInstructModelConfig(ModelConfig):
    """TRL's ``ModelConfig`` with LoRA on by default, on every linear projection."""

    use_peft: bool = field(
        default=True, metadata={"help": "Train a LoRA adapter (False = full fine-tuning)."}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scaling = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default_factory=lambda: ["all-linear"],
        metadata={
            "help": "Modules to adapt: `all-linear` (default: q,k,v,o,gate,up,down) or a list of names."
        },
    )


TRAINING_DATACLASSES = (BioInstructScriptArguments, BioInstructSFTConfig, BioInstructModelConfig)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of ``examples/sft.py`` and ``bioinstruct train``: ``--config recipe.yaml`` + overrides."""
    return TrlParser(TRAINING_DATACLASSES, prog=prog)


def parse_training_args(
    argv: list[str] | None = None, prog: str | None = None
) -> tuple[BioInstructScriptArguments, BioInstructSFTConfig, BioInstructModelConfig]:
    """Parse ``argv`` (YAML ``--config`` + overrides) into the three config objects."""
    script_args, training_args, model_args = make_parser(prog).parse_args_and_config(args=argv)
    return script_args, training_args, model_args
