"""`bioinstruct push dataset|adapter DIR REPO_ID [--private]`: upload artefacts with their cards.

Why a table of targets: each artefact (a generated dataset now, a trained adapter from the
training stage) has its own arguments and push function, but users want one ``push`` verb. A new
target is one entry in :data:`TARGETS`: ``name -> (help, add_arguments, run)``; the training stage
adds ``adapter`` with :func:`register_target`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "output_dir", metavar="OUTPUT_DIR", help="The --output-dir of a `bioinstruct generate` run."
    )
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub dataset repo, e.g. my-org/bioinstruct-25k.")
    parser.add_argument("--private", action="store_true", help="Create the repo as private.")
    parser.add_argument(
        "--card-template", default=None, help="Jinja card template to use instead of the bundled one."
    )


def _run_dataset(args: argparse.Namespace) -> int:
    from bioinstruct.hub import push_dataset

    url = push_dataset(args.output_dir, args.repo_id, private=args.private, card_template=args.card_template)
    print(url)
    return 0


def _add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "adapter_dir", metavar="ADAPTER_DIR", help="The output_dir of a `bioinstruct train` run."
    )
    parser.add_argument(
        "repo_id", metavar="REPO_ID", help="Hub model repo, e.g. my-org/llama2-7b-bioinstruct-lora."
    )
    parser.add_argument("--private", action="store_true", help="Create the repo as private.")


def _run_adapter(args: argparse.Namespace) -> int:
    from bioinstruct.hub import push_adapter

    print(push_adapter(args.adapter_dir, args.repo_id, private=args.private))
    return 0


#: name -> (help, add_arguments, run). The token comes from HF_TOKEN or `hf auth login`, never a flag.
TARGETS: dict[str, tuple[str, AddArguments, Run]] = {
    "dataset": (
        "Push a generated dataset (instructions.jsonl + data card).",
        _add_dataset_arguments,
        _run_dataset,
    ),
    "adapter": (
        "Push a trained LoRA adapter (verified non-empty) with its model card and tokenizer.",
        _add_adapter_arguments,
        _run_adapter,
    ),
}


def register_target(name: str, help_text: str, add_arguments: AddArguments, run: Run) -> None:
    """Add a ``bioinstruct push NAME`` target (e.g. ``adapter``)."""
    TARGETS[name] = (help_text, add_arguments, run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="push_target", metavar="TARGET", title="targets", required=True)
    for name, (help_text, add_target_arguments, run) in TARGETS.items():
        target_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_target_arguments(target_parser)
        target_parser.set_defaults(_push_run=run)


def run(args: argparse.Namespace) -> int:
    return int(args._push_run(args) or 0)
