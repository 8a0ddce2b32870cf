"""The ``train`` stage: ``bioinstruct train --config recipe.yaml [--flag value ...]``.

Why its own argv handling: TRL's ``TrlParser`` owns the flags (every ``SFTConfig``,
``ModelConfig`` and ``ScriptArguments`` field, YAML ``--config`` plus overrides), exactly as
in ``examples/sft.py``, which calls :func:`main` too, so both run the same code.

Why a short ``--help`` written here: the full list is ~170 fields (900 lines) and needs torch,
transformers and trl imported (18 s); ``--help`` answers at once with ``--config`` and the fields
a recipe usually sets, ``--help-all`` prints TRL's full list. Every mistake (a YAML syntax error,
an unknown key or flag, a value of the wrong type) is one line naming the file, line and field.
"""

from __future__ import annotations

import logging
import os
import sys

from bioinstruct.errors import BioInstructError, ConfigError, UsageError, one_line

#: (field, default, help) of the fields a recipe usually sets; tests check them against config.py.
COMMON_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("model_name_or_path", "", "base model: a Hub id, a local folder, a .gguf file or `smollm2`"),
    ("dataset_name", "", "instructions: a JSON/JSONL file, a `bioinstruct generate` folder or a Hub id"),
    ("output_dir", "", "where the adapter, its checkpoints and its model card go"),
    ("categories", "all", "keep only these categories, e.g. QA,IE (the paper's ablation)"),
    ("prompt_template", "bioinstruct", "bioinstruct | alpaca | chat"),
    ("learning_rate", "0.0002", "peak learning rate"),
    ("num_train_epochs", "3.0", "epochs (max_steps > 0 overrides)"),
    ("max_steps", "-1", "stop after this many optimizer steps"),
    ("per_device_train_batch_size", "4", "rows per device per step"),
    ("gradient_accumulation_steps", "8", "steps accumulated per update"),
    ("max_length", "1024", "tokens per example"),
    ("lora_r", "16", "LoRA rank"),
    ("lora_alpha", "32", "LoRA alpha (scaling = alpha / r)"),
    ("lora_dropout", "0.05", "LoRA dropout"),
    ("lora_target_modules", "all-linear", "modules to adapt"),
    ("load_in_4bit", "false", "QLoRA: 4-bit NF4 base model (bitsandbytes, CUDA)"),
    ("use_cpu", "false", "train on CPU (with bf16: false)"),
    ("bf16", "", "bfloat16 mixed precision (GPU)"),
    ("save_steps", "200", "checkpoint every N steps; a rerun resumes from the last one"),
    ("merge_adapter", "false", "also write the base model with the adapter merged in"),
    ("dry_run", "false", "check the recipe, print the GPU memory estimate, exit (no weights loaded)"),
)


def short_help(prog: str = "bioinstruct train") -> str:
    """``--help``: the recipe flag, the common fields and where the full list is, without imports."""
    width = max(len(name) for name, _, _ in COMMON_FIELDS) + 2
    lines = [
        f"usage: {prog} --config RECIPE.yaml [--FIELD VALUE ...]",
        "",
        "LoRA/QLoRA supervised fine-tuning with TRL's SFTTrainer from a YAML recipe",
        "(examples/recipes/*.yaml). Any recipe field can be given or overridden as --FIELD VALUE.",
        "",
        "options:",
        f"  {'--config RECIPE.yaml':<{width + 2}}the recipe: one `field: value` per line",
        f"  {'--help-all':<{width + 2}}every field (TRL's SFTConfig, ModelConfig, ScriptArguments)",
        f"  {'-h, --help':<{width + 2}}this message",
        "",
        "common recipe fields (default):",
    ]
    for name, default, text in COMMON_FIELDS:
        suffix = f" (default {default})" if default else ""
        lines.append(f"  {name:<{width + 2}}{text}{suffix}")
    lines += [
        "",
        f"example: {prog} --config examples/recipes/tiny-cpu.yaml --max_steps 10",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "bioinstruct train") -> int:
    """Parse, build, train. User mistakes print one line and return 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(short_help(prog))
        return 0
    from bioinstruct import quiet

    quiet.ensure_applied()  # examples/sft.py: the same console as `bioinstruct train`
    try:
        if "--help-all" in argv:
            from bioinstruct.training.config import make_parser

            make_parser(prog).print_help()
            return 0
        script_args, training_args, model_args = parse(argv, prog)
        if not logging.getLogger().handlers:  # examples/sft.py run directly: show our progress messages
            logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("bioinstruct").setLevel(logging.INFO)
        if script_args.dry_run:
            from bioinstruct.training.memory_plan import dry_run

            table = dry_run(script_args, training_args, model_args)
            if os.environ.get("RANK", "0") == "0":
                print(table)
            return 0
        from bioinstruct.training.recipe import train

        output_dir = train(script_args, training_args, model_args)
    except BioInstructError as err:
        return _fail(err)
    if os.environ.get("RANK", "0") == "0":
        print(f"bioinstruct: training finished; adapter and model card in {output_dir}")
    return 0


def parse(argv: list[str], prog: str = "bioinstruct train"):
    """The three config objects from ``--config`` + overrides; every mistake a :class:`ConfigError`."""
    from bioinstruct.training.recipe_file import check_recipe, load_recipe

    argv = list(argv)
    recipe_name = None
    if "--config" in argv:
        index = argv.index("--config")
        if index + 1 >= len(argv) or argv[index + 1].startswith("--"):
            raise UsageError("--config needs a YAML file, e.g. --config examples/recipes/tiny-cpu.yaml", prog)
        recipe_name = argv[index + 1]
        recipe, lines = load_recipe(recipe_name)  # before the slow imports: a typo answers at once
    from bioinstruct.argparsing import check_model_argument, explain, unknown_option
    from bioinstruct.training.config import make_parser

    parser = make_parser(prog)

    def error(message: str):
        raise UsageError(f"{explain(message, _long_options(parser))} (see `{prog} --help`)", prog)

    parser.error = error  # argparse's error prints the whole usage block first
    if recipe_name is not None:
        check_recipe(recipe, lines, parser, recipe_name)
    long_options = _long_options(parser)
    for token in argv:
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag != "--config" and flag not in parser._option_string_actions:
            if len(flag) > 2 and any(option.startswith(flag) for option in long_options):
                continue  # an abbreviation argparse resolves (or calls ambiguous)
            raise UsageError(f"{unknown_option(flag, long_options)} (see `{prog} --help-all`)", prog)
    try:
        configs = parser.parse_args_and_config(args=argv)
    except ValueError as err:  # the configs' __post_init__: inconsistent settings
        where = f"{recipe_name}: " if recipe_name else ""
        raise ConfigError(f"invalid training configuration: {where}{one_line(err)}") from err
    check_model_argument(configs[2].model_name_or_path or "", "model_name_or_path")
    return configs


def _long_options(parser) -> list[str]:
    return [option for option in parser._option_string_actions if option.startswith("--")]


def _fail(err: BioInstructError) -> int:
    prog = err.prog if isinstance(err, UsageError) else "bioinstruct"
    print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
    return 2
