"""An evaluation from one :class:`~bioinstruct.evaluation.config.EvaluateConfig`: what
``bioinstruct evaluate`` runs, callable from Python with the same config (or its ``evaluate.yaml``).

Why here and not in the CLI: turning the config's fields into an :class:`Evaluator`, its backend
options and the LLM judge (with the shared client's dollar cap and pacing) is evaluation logic; the
command only parses flags, records the effective YAML and prints. Every setting comes from the
config, none from the environment, so the recorded ``evaluate.yaml`` reruns it alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bioinstruct.cli_args import parse_name_path_pairs
from bioinstruct.evaluation.config import EvaluateConfig
from bioinstruct.evaluation.evaluator import Evaluator
from bioinstruct.evaluation.report import EvalResults


def backend_options(config: EvaluateConfig) -> dict[str, Any]:
    """The options of the config's backend (each backend takes its own)."""
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
    return {"dtype": config.dtype, "tensor_parallel_size": config.tensor_parallel_size}


def make_evaluator(config: EvaluateConfig) -> Evaluator:
    """The :class:`Evaluator` of ``config`` (its cache under ``output_dir/cache`` unless ``no_cache``)."""
    return Evaluator(
        config.model,
        adapters=config.adapter,
        backend=config.backend,
        cache_dir=None if config.no_cache else Path(config.output_dir) / "cache",
        backend_options=backend_options(config),
        bertscore_model=config.bertscore_model,
        bertscore_layers=config.bertscore_layers,
    )


def make_judge(config: EvaluateConfig) -> Any:
    """The LLM judge of ``config`` (None without ``judge_model``): capped by ``judge_max_cost_usd``
    (else ``max_cost_usd``) and paced like the openai backend, through the shared LLM client."""
    if not config.judge_model:
        return None
    from bioinstruct.evaluation.judge import Judge, resolve_endpoint

    # Benchmark text and predictions go only where the user said; one line says where, first.
    judge_url, where = resolve_endpoint(config.judge_base_url, config.base_url)
    cap = config.judge_max_cost_usd if config.judge_max_cost_usd is not None else config.max_cost_usd
    return Judge(
        model=config.judge_model,
        base_url=judge_url,
        cache_dir=Path(config.output_dir) / "judge",
        notice=where,
        timeout=config.timeout,
        max_cost_usd=cap,
        max_concurrency=config.max_concurrency,
        requests_per_minute=config.requests_per_minute,
    )


def evaluate(config: EvaluateConfig) -> EvalResults:
    """Run the evaluation ``config`` describes (declarations of ``include_path`` registered first)."""
    from bioinstruct.benchmarks import register_yaml

    for path in config.include_path or []:
        register_yaml(path)
    return make_evaluator(config).run(
        config.benchmarks,
        limit=config.limit,
        data_files=parse_name_path_pairs(config.data_file, "--data-file"),
        fewshot_files=parse_name_path_pairs(config.fewshot_file, "--fewshot-file"),
        protocol=config.protocol,
        num_fewshot=config.num_fewshot,
        template=config.template,
        seed=config.seed,
        judge=make_judge(config),
        cot_max_new_tokens=config.cot_max_new_tokens,
        cot_samples=config.cot_samples,
        cot_temperature=config.cot_temperature,
        cot_template=config.cot_template,
    )


__all__ = ["backend_options", "evaluate", "make_evaluator", "make_judge"]
