"""`bioinstruct` command line: one sub-command per stage.

Why a table of module paths: ``bioinstruct --help`` must answer instantly, without importing
torch or transformers. A stage's module is imported only when that stage runs. Each module
provides ``add_arguments(parser)`` and ``run(args) -> int``; a stage that parses its own
argv (``train`` uses TRL's ``TrlParser``) provides ``main(argv) -> int`` instead.

Why the entry decides the console: the quiet policy (:mod:`bioinstruct.quiet`, ``-v`` to lift it)
is applied before any stage imports a library, and every mistake - a ``BioInstructError`` from a
stage, or a bad flag (:mod:`bioinstruct.argparsing`) - is one ``PROG: error: ...`` line with exit
code 2. An output folder or file that a failed run created and left empty is removed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
from pathlib import Path

from bioinstruct import quiet
from bioinstruct.argparsing import ArgumentParser
from bioinstruct.errors import BioInstructError, UsageError, one_line
from bioinstruct.quiet import quiet_http_logs

__all__ = ["COMMANDS", "build_parser", "main", "quiet_http_logs"]

# name -> (module, one-line help). Keep in the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": (
        "bioinstruct.quickstart",
        "Offline end-to-end demo on a tiny local model (no GPU, no network).",
    ),
    "generate": (
        "bioinstruct.commands.generate",
        "Generate instructions with a teacher model (self-instruct).",
    ),
    "view": (
        "bioinstruct.commands.view",
        "Write a generation run's or an evaluation's viewer: one HTML file that opens from disk.",
    ),
    "dedup": (
        "bioinstruct.commands.dedup",
        "Drop near-duplicate instructions (exact ROUGE-L) from a JSON/JSONL file.",
    ),
    "decontaminate": (
        "bioinstruct.commands.decontaminate",
        "Flag (or drop) instruction rows that overlap benchmark test items (13-grams, ROUGE-L).",
    ),
    "train": (
        "bioinstruct.commands.train",
        "LoRA/QLoRA supervised fine-tuning from a YAML recipe (TRL SFTTrainer).",
    ),
    "evaluate": (
        "bioinstruct.commands.evaluate",
        "Evaluate a model and its LoRA adapters on BioNLP benchmarks.",
    ),
    "benchmarks": ("bioinstruct.commands.benchmarks", "List the registered evaluation benchmarks."),
    "push": (
        "bioinstruct.commands.push",
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
    parser = ArgumentParser(
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


#: Namespace attributes that name what a stage writes; a new one left empty by a failed run is removed.
_OUTPUT_ATTRIBUTES = ("output_dir", "output", "report", "dry_run", "export_alpaca", "dropped")


def _new_outputs(args: argparse.Namespace) -> list[Path]:
    """The outermost folder or file each output path would create (``runs/`` for a new ``runs/eval``)."""
    found = []
    for value in (getattr(args, name, None) for name in _OUTPUT_ATTRIBUTES):
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).absolute()
        if path.exists():
            continue
        while not path.parent.exists():
            path = path.parent
        found.append(path)
    return found


def _remove_if_empty(paths: list[Path]) -> None:
    """A run that failed must not leave an empty folder (or an empty file) that looks like output."""
    for path in paths:
        if path.is_dir() and not any(entry.is_file() or entry.is_symlink() for entry in path.rglob("*")):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.stat().st_size == 0:
            path.unlink(missing_ok=True)


def _print_error(err: BioInstructError) -> int:
    prog = err.prog if isinstance(err, UsageError) else "bioinstruct"
    print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
    return 2


#: Stages that only read local files: no Hub check before them.
_LOCAL_STAGES = frozenset({"view"})


def _offline_if_unreachable(argv: list[str]) -> None:
    """One quick Hub check before a stage imports huggingface_hub/datasets/transformers: offline,
    they read the offline switch at import and a miss fails at once instead of retrying for a
    minute (``bioinstruct.offline``). ``--help`` needs no network and skips it."""
    if "-h" in argv or "--help" in argv:
        return
    from bioinstruct.offline import ensure_offline_mode_if_unreachable

    ensure_offline_mode_if_unreachable()


def main(argv: list[str] | None = None) -> int:
    """Run ``bioinstruct ARGV``; returns the exit code (2 for a user's mistake, one line on stderr)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `bioinstruct benchmarks | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str]) -> int:
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    quiet.apply(verbose)
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
            if argv[stage_index] not in _LOCAL_STAGES:
                _offline_if_unreachable(argv)
            module = _import_stage(argv[stage_index])
            if hasattr(module, "main") and not hasattr(module, "add_arguments"):
                return int(module.main(argv[stage_index + 1 :]) or 0)
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
    except BioInstructError as err:
        return _print_error(err)
    except KeyboardInterrupt:
        return _interrupted(argv)
    new_outputs = _new_outputs(args)
    try:
        return int(args._run(args) or 0)
    except BioInstructError as err:
        _remove_if_empty(new_outputs)
        return _print_error(err)
    except KeyboardInterrupt:
        return _interrupted(argv)


def _interrupted(argv: list[str]) -> int:
    resumable = {"generate", "train", "evaluate", "quickstart"}
    stage = next((arg for arg in argv if arg in COMMANDS), None)
    hint = "rerun the same command to resume" if stage in resumable else "no partial output was written"
    print(f"bioinstruct: interrupted; {hint}.", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
