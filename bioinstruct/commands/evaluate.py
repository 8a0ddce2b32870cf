"""``bioinstruct evaluate``: score a model and its LoRA adapters on BioNLP benchmarks.

Why flags mirror :class:`~bioinstruct.evaluation.evaluator.Evaluator`: one command per
question a user asks ("how does my adapter do on the paper's QA sets?"), with the protocol
written into the output next to every number. Predictions are cached under
``<output-dir>/cache``, so rerunning an interrupted command resumes it.

The options are the fields of :class:`~bioinstruct.evaluation.config.EvaluateConfig`: flags, a
``--config`` YAML file under them, and ``<output-dir>/evaluate.yaml``, the effective configuration
each run writes (the BERTScore model included when it came from BIOINSTRUCT_BERTSCORE_MODEL; never a
key), so ``bioinstruct evaluate --config <output-dir>/evaluate.yaml`` reruns it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shlex
from pathlib import Path

from bioinstruct.argparsing import ArgumentParser
from bioinstruct.config_files import add_config_arguments
from bioinstruct.evaluation.config import EvaluateConfig

logger = logging.getLogger(__name__)


def add_arguments(parser: ArgumentParser) -> None:
    """One flag per :class:`EvaluateConfig` field, and ``--config evaluate.yaml``."""
    add_config_arguments(parser, EvaluateConfig)


#: Read once by the CLI into the recorded config (``bertscore_model``); nothing reads it later.
BERTSCORE_MODEL_ENV = "BIOINSTRUCT_BERTSCORE_MODEL"


def effective_config(config: EvaluateConfig) -> EvaluateConfig:
    """``config`` with what the environment chose written in, so the YAML reruns alone, from any
    folder: the BERTScore model of BIOINSTRUCT_BERTSCORE_MODEL when no ``--bertscore-model`` was
    given, and the declaration and data file paths made absolute."""

    def absolute(spec: str) -> str:
        name, sep, path = spec.partition("=") if "=" in spec else ("", "", spec)
        return f"{name}{sep}{Path(path).expanduser().absolute()}"

    changes: dict = {
        key: [absolute(spec) for spec in getattr(config, key)]
        for key in ("include_path", "data_file", "fewshot_file")
        if getattr(config, key)
    }
    if not config.bertscore_model and os.environ.get(BERTSCORE_MODEL_ENV):
        changes["bertscore_model"] = os.environ[BERTSCORE_MODEL_ENV]
    return dataclasses.replace(config, **changes)


def run(args: argparse.Namespace) -> int:
    from bioinstruct.config_files import recording_config
    from bioinstruct.evaluation.configured import evaluate

    config = effective_config(args.config)
    output_dir = Path(config.output_dir)
    config_file = output_dir / EvaluateConfig.CONFIG_FILE
    header = (
        "The configuration of this `bioinstruct evaluate` run (keys come from OPENAI_API_KEY, "
        "never a file).\n"
        f"Rerun it with: bioinstruct evaluate --config {shlex.quote(str(config_file))}"
    )
    # A run that fails with a user's mistake leaves evaluate.yaml as it was (and no new empty folder).
    with recording_config(config, config_file, header):
        results = evaluate(config)
        results.save(output_dir)
    print(results.to_markdown())
    logger.info("results written to %s", output_dir)
    return 0
