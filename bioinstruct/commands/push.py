"""`bioinstruct push dataset|adapter DIR REPO_ID [--public] [--dry-run OUT]`: upload artefacts with their cards.

Why a table of targets: each artefact (a generated dataset now, a trained adapter from the
training stage) has its own arguments and push function, but users want one ``push`` verb. A new
target is one entry in :data:`TARGETS`: ``name -> (help, add_arguments, run)``; the training stage
adds ``adapter`` with :func:`register_target`. Repos are created private unless ``--public``;
``--dry-run OUT`` writes the exact folder that would be uploaded and uploads nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    visibility = parser.add_mutually_exclusive_group()
    visibility.add_argument(
        "--private",
        dest="private",
        action="store_true",
        default=True,
        help="Create the repo as private (the default; an existing repo keeps its visibility).",
    )
    visibility.add_argument(
        "--public", dest="private", action="store_false", help="Create the repo as public instead."
    )
    parser.add_argument(
        "--dry-run",
        metavar="DIR",
        default=None,
        help="Upload nothing: write exactly the folder that would be uploaded (card, data, charts) to DIR. "
        "DIR must be new, empty, or an earlier dry run, which is replaced.",
    )


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    from bioinstruct.cards.dataset import DEFAULT_LICENSE

    parser.add_argument(
        "output_dir", metavar="OUTPUT_DIR", help="The --output-dir of a `bioinstruct generate` run."
    )
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub dataset repo, e.g. my-org/bioinstruct-25k.")
    _add_common_arguments(parser)
    parser.add_argument(
        "--license",
        default=DEFAULT_LICENSE,
        help="Hub licence id for the card (default: 'other', explained in the card as the teacher "
        "provider's terms of use, which govern generated rows), e.g. cc-by-nc-4.0.",
    )
    parser.add_argument(
        "--decontamination-report",
        metavar="REPORT_JSON",
        default=None,
        help="A `bioinstruct decontaminate --report` file to show in the card (default: the report in run.json, "
        "if generation decontaminated).",
    )
    parser.add_argument(
        "--card-template", default=None, help="Jinja card template to use instead of the bundled one."
    )


def _run_dataset(args: argparse.Namespace) -> int:
    from bioinstruct.hub import push_dataset

    where = push_dataset(
        args.output_dir,
        args.repo_id,
        private=args.private,
        card_template=args.card_template,
        license=args.license,
        decontamination_report=args.decontamination_report,
        dry_run=args.dry_run,
    )
    print(_outcome(args, "dataset", where))
    return 0


def _outcome(args: argparse.Namespace, repo_type: str, where: str) -> str:
    """The one line a push prints: the commit URL (scripts read it), or where the dry run wrote."""
    if args.dry_run is None:
        return where
    return f"dry run, nothing uploaded: the folder a push to {repo_type} repo {args.repo_id} would upload is {where}"


def _add_adapter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "adapter_dir", metavar="ADAPTER_DIR", help="The output_dir of a `bioinstruct train` run."
    )
    parser.add_argument(
        "repo_id", metavar="REPO_ID", help="Hub model repo, e.g. my-org/llama2-7b-bioinstruct-lora."
    )
    _add_common_arguments(parser)
    parser.add_argument(
        "--results",
        metavar="RESULTS_JSON",
        default=None,
        help="results.json (or the --output-dir) of a `bioinstruct evaluate` run that scored this adapter: "
        "its results and the base model's become the card's table and model-index metadata.",
    )
    parser.add_argument(
        "--dataset-id",
        metavar="DATASET_REPO",
        default=None,
        help="The Hub dataset the adapter was trained on, when training read a local copy (linked from the card).",
    )


def _run_adapter(args: argparse.Namespace) -> int:
    from bioinstruct.hub import push_adapter

    where = push_adapter(
        args.adapter_dir,
        args.repo_id,
        private=args.private,
        results=args.results,
        dataset_id=args.dataset_id,
        dry_run=args.dry_run,
    )
    print(_outcome(args, "model", where))
    return 0


#: name -> (help, add_arguments, run). The token comes from HF_TOKEN or `hf auth login`, never a flag.
TARGETS: dict[str, tuple[str, AddArguments, Run]] = {
    "dataset": (
        "Push a generated dataset: data/train.jsonl, the dataset card and its category chart (private by default).",
        _add_dataset_arguments,
        _run_dataset,
    ),
    "adapter": (
        "Push a trained LoRA adapter (verified non-empty) with its tokenizer, recipe, loss curve and model card "
        "(evaluation results with --results; private by default).",
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
