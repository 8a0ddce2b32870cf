"""`bioinstruct` command line: one sub-command per stage.

Why a table of module paths: ``bioinstruct --help`` must answer instantly, without importing
torch or transformers. A stage's module is imported only when that stage runs. Each module
provides ``add_arguments(parser)`` and ``run(args) -> int``; a stage that parses its own
argv (``train`` uses TRL's ``TrlParser``) provides ``main(argv) -> int`` instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from bioinstruct.errors import BioInstructError

# name -> (module, one-line help). Keep in the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": (
        "bioinstruct.quickstart",
        "Offline end-to-end demo on a tiny local model (no GPU, no network).",
    ),
    "generate": ("bioinstruct.generation.cli", "Generate instructions with a teacher model (self-instruct)."),
    "dedup": (
        "bioinstruct.generation.dedup_cli",
        "Drop near-duplicate instructions (exact ROUGE-L) from a JSON/JSONL file.",
    ),
    "decontaminate": (
        "bioinstruct.generation.decontaminate_cli",
        "Flag (or drop) instruction rows that overlap benchmark test items (13-grams, ROUGE-L).",
    ),
    "train": (
        "bioinstruct.training.cli",
        "LoRA/QLoRA supervised fine-tuning from a YAML recipe (TRL SFTTrainer).",
    ),
    "evaluate": (
        "bioinstruct.evaluation.cli",
        "Evaluate a model and its LoRA adapters on BioNLP benchmarks.",
    ),
    "benchmarks": ("bioinstruct.evaluation.cli_list", "List the registered evaluation benchmarks."),
    "push": (
        "bioinstruct.hub_cli",
        "Push a generated dataset or a trained adapter to the Hugging Face Hub with its card.",
    ),
}


# Which extra brings the packages a stage imports (a core install only has what `generate` needs).
_EXTRA_OF_PACKAGE = {
    "torch": "train",
    "transformers": "train",
    "trl": "train",
    "peft": "train",
    "accelerate": "train",
}


def _import_stage(name: str):
    try:
        return importlib.import_module(COMMANDS[name][0])
    except ModuleNotFoundError as err:
        package = (err.name or "").split(".")[0]
        extra = _EXTRA_OF_PACKAGE.get(package)
        if extra is None:
            raise
        hint = "pip install torch==2.13.0 (CPU) or your CUDA build, then " if package == "torch" else ""
        raise BioInstructError(
            f"`bioinstruct {name}` needs {package!r}, which is not installed: {hint}pip install 'bioinstruct[{extra}]'"
        ) from err


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bioinstruct",
        description="Biomedical instruction tuning: generate -> train -> evaluate.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log at DEBUG level.")
    sub = parser.add_subparsers(dest="command", metavar="STAGE", title="stages")
    for name, (_module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name in argv:
            module = _import_stage(name)
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub_parser)
                sub_parser.set_defaults(_run=module.run)
    return parser


def quiet_http_logs() -> None:
    """The OpenAI and Hub clients' HTTP stacks log one INFO line per request, with the full URL
    (including any credentials embedded in a --base-url); only ``-v`` keeps them."""
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        quiet_http_logs()
    try:
        # Stages that own their argv (TrlParser) get everything after the stage name.
        stage_index = next((i for i, arg in enumerate(argv) if arg in COMMANDS), None)
        if stage_index is not None:
            module = _import_stage(argv[stage_index])
            if hasattr(module, "main") and not hasattr(module, "add_arguments"):
                return int(module.main(argv[stage_index + 1 :]) or 0)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return int(args._run(args) or 0)
    except BioInstructError as err:
        print(f"bioinstruct: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resumable = {"generate", "train", "evaluate", "quickstart"}
        stage = next((arg for arg in argv if arg in COMMANDS), None)
        hint = "rerun the same command to resume" if stage in resumable else "no partial output was written"
        print(f"bioinstruct: interrupted; {hint}.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
