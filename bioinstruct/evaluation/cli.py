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
from bioinstruct.cli_args import parse_name_path_pairs
from bioinstruct.config_files import add_config_arguments
from bioinstruct.evaluation.config import EvaluateConfig

logger = logging.getLogger(__name__)


def add_arguments(parser: ArgumentParser) -> None:
    """One flag per :class:`EvaluateConfig` field, and ``--config evaluate.yaml``."""
    add_config_arguments(parser, EvaluateConfig)


def _backend_options(config: EvaluateConfig) -> dict:
    if config.backend == "hf":
        return {"batch_size": config.batch_size, "dtype": config.dtype, "device": config.device}
    if config.backend == "openai":
        return {
            "base_url": config.base_url,
            "max_concurrency": config.max_concurrency,
            "requests_per_minute": config.requests_per_minute,
            "max_cost_usd": config.max_cost_usd,
            "timeout": config.timeout,
        }
    return {"dtype": config.dtype}


def effective_config(config: EvaluateConfig) -> EvaluateConfig:
    """``config`` with what the environment chose written in: the BERTScore model of
    BIOINSTRUCT_BERTSCORE_MODEL when no ``--bertscore-model`` was given, so the YAML reruns alone."""
    from bioinstruct.evaluation.benchmarks.gen import BERTSCORE_MODEL_ENV

    if config.bertscore_model or not os.environ.get(BERTSCORE_MODEL_ENV):
        return config
    return dataclasses.replace(config, bertscore_model=os.environ[BERTSCORE_MODEL_ENV])


def run(args: argparse.Namespace) -> int:
    from bioinstruct.config_files import recording_config
    from bioinstruct.evaluation.benchmarks.gen import BERTSCORE_MODEL_ENV

    config = effective_config(args.config)
    output_dir = Path(config.output_dir)
    if config.bertscore_model:  # read by the generation benchmarks' metric (benchmarks/gen.py)
        os.environ[BERTSCORE_MODEL_ENV] = config.bertscore_model
    config_file = output_dir / EvaluateConfig.CONFIG_FILE
    header = (
        "The configuration of this `bioinstruct evaluate` run (keys come from OPENAI_API_KEY, "
        "never a file).\n"
        f"Rerun it with: bioinstruct evaluate --config {shlex.quote(str(config_file))}"
    )
    # A run that fails with a user's mistake leaves evaluate.yaml as it was (and no new empty folder).
    with recording_config(config, config_file, header):
        results = _evaluate(config, output_dir)
        results.save(output_dir)
    print(results.to_markdown())
    logger.info("results written to %s", output_dir)
    return 0


def _evaluate(config: EvaluateConfig, output_dir: Path):
    from bioinstruct.evaluation.evaluator import Evaluator

    judge = None
    if config.judge_model:
        from bioinstruct.evaluation.judge import Judge, resolve_endpoint

        # Benchmark text and predictions go only where the user said; one line says where, first.
        judge_url, where = resolve_endpoint(config.judge_base_url, config.base_url)
        judge = Judge(
            model=config.judge_model,
            base_url=judge_url,
            cache_dir=output_dir / "judge",
            notice=where,
            timeout=config.timeout,
            max_cost_usd=config.judge_max_cost_usd
            if config.judge_max_cost_usd is not None
            else config.max_cost_usd,
            max_concurrency=config.max_concurrency,
            requests_per_minute=config.requests_per_minute,
        )
    evaluator = Evaluator(
        config.model,
        adapters=config.adapter,
        backend=config.backend,
        cache_dir=None if config.no_cache else output_dir / "cache",
        backend_options=_backend_options(config),
    )
    return evaluator.run(
        config.benchmarks,
        limit=config.limit,
        data_files=parse_name_path_pairs(config.data_file, "--data-file"),
        fewshot_files=parse_name_path_pairs(config.fewshot_file, "--fewshot-file"),
        protocol=config.protocol,
        num_fewshot=config.num_fewshot,
        template=config.template,
        seed=config.seed,
        judge=judge,
    )
