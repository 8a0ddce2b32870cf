"""``bioinstruct evaluate``: score a model and its LoRA adapters on BioNLP benchmarks.

Why flags mirror :class:`~bioinstruct.evaluation.evaluator.Evaluator`: one command per
question a user asks ("how does my adapter do on the paper's QA sets?"), with the protocol
written into the output next to every number. Predictions are cached under
``<output-dir>/cache``, so rerunning an interrupted command resumes it.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from bioinstruct.cli_args import parse_name_path_pairs

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        help="Hub id or local folder of the base model (or the served model name for --backend openai).",
    )
    parser.add_argument(
        "--adapter",
        action="append",
        metavar="[LABEL=]PATH",
        help="LoRA adapter folder to evaluate over the same base, unmerged; repeat for several. The bare base is always evaluated too.",
    )
    parser.add_argument(
        "--benchmarks",
        required=True,
        help="Comma-separated benchmark names and/or groups (qa, nli, ie, gen, paper); see `bioinstruct benchmarks`.",
    )
    parser.add_argument(
        "--backend",
        default="hf",
        choices=["hf", "openai", "vllm"],
        help="hf: transformers + peft (default); openai: any OpenAI-compatible endpoint (generative only); vllm: optional, GPU.",
    )
    parser.add_argument(
        "--data-file",
        action="append",
        metavar="NAME=PATH",
        help="Local data for a benchmark in its Hub schema (required for bioasq and mednli); repeat per benchmark.",
    )
    parser.add_argument(
        "--fewshot-file",
        action="append",
        metavar="NAME=PATH",
        help="Rows to draw few-shot demonstrations from instead of the benchmark's train split.",
    )
    parser.add_argument(
        "--limit", type=int, help="Score only the first N items of each benchmark (smoke tests)."
    )
    parser.add_argument(
        "--protocol",
        choices=["loglik", "generate"],
        help="Multiple choice: log-likelihood over the options (default where the backend supports it) or generation parsed to a choice.",
    )
    parser.add_argument(
        "--num-fewshot",
        type=int,
        help="Demonstrations per prompt (default: the benchmark's own, 0 for QA as in the paper).",
    )
    parser.add_argument(
        "--template",
        default="bioinstruct",
        help="Prompt template: bioinstruct (paper), alpaca, plain (lm-eval layout) or chat (the model's chat template).",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="Seed for drawing few-shot demonstrations and for bootstrap intervals.",
    )
    parser.add_argument(
        "--output-dir",
        default="runs/eval",
        help="Where results.json, results.md, samples/ and the prediction cache go.",
    )
    parser.add_argument("--no-cache", action="store_true", help="Do not read or write the prediction cache.")
    parser.add_argument("--batch-size", type=int, default=8, help="hf backend: prompts per forward pass.")
    parser.add_argument("--dtype", default="auto", help="hf backend: auto, float32, bfloat16 or float16.")
    parser.add_argument("--device", default="auto", help="hf backend: auto, cpu, cuda, cuda:1, mps.")
    parser.add_argument(
        "--base-url",
        help="openai backend: endpoint URL (default: OPENAI_BASE_URL). The key is read from OPENAI_API_KEY.",
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=8, help="openai backend and judge: requests in flight."
    )
    parser.add_argument(
        "--requests-per-minute", type=float, help="openai backend and judge: pace requests (each its own)."
    )
    parser.add_argument(
        "--max-cost-usd",
        type=float,
        help="openai backend and judge: hard spending cap of each for this run (the judge's own: "
        "--judge-max-cost-usd).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="openai backend and judge: seconds to wait for one reply (a small model on a busy CPU "
        "server may need several minutes).",
    )
    parser.add_argument(
        "--bertscore-model",
        help="Local folder (or Hub id) of the BERTScore model for generation benchmarks; needs "
        "`pip install bioinstruct[bertscore]`. Off by default.",
    )
    parser.add_argument(
        "--judge-model", help="LLM judge (e.g. gpt-4) for benchmarks with judge axes (generation sets)."
    )
    parser.add_argument(
        "--judge-base-url",
        help="Endpoint of the judge (default: --base-url, then OPENAI_BASE_URL; never api.openai.com "
        "unless named here). The key is read from OPENAI_API_KEY.",
    )
    parser.add_argument(
        "--judge-max-cost-usd",
        type=float,
        help="The judge's hard spending cap (default: --max-cost-usd); it stops judging, with the "
        "unjudged items counted, when the next request could pass it.",
    )


def _backend_options(args: argparse.Namespace) -> dict:
    if args.backend == "hf":
        return {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device}
    if args.backend == "openai":
        return {
            "base_url": args.base_url,
            "max_concurrency": args.max_concurrency,
            "requests_per_minute": args.requests_per_minute,
            "max_cost_usd": args.max_cost_usd,
            "timeout": args.timeout,
        }
    return {"dtype": args.dtype}


def run(args: argparse.Namespace) -> int:
    from bioinstruct.evaluation.evaluator import Evaluator

    output_dir = Path(args.output_dir)
    if (
        args.bertscore_model
    ):  # read by the generation benchmarks' metric (bioinstruct.evaluation.benchmarks.gen)
        os.environ["BIOINSTRUCT_BERTSCORE_MODEL"] = args.bertscore_model
    judge = None
    if args.judge_model:
        from bioinstruct.evaluation.judge import Judge, resolve_endpoint

        # Benchmark text and predictions go only where the user said; one line says where, first.
        judge_url, where = resolve_endpoint(args.judge_base_url, args.base_url)
        judge = Judge(
            model=args.judge_model,
            base_url=judge_url,
            cache_dir=output_dir / "judge",
            notice=where,
            timeout=args.timeout,
            max_cost_usd=args.judge_max_cost_usd
            if args.judge_max_cost_usd is not None
            else args.max_cost_usd,
            max_concurrency=args.max_concurrency,
            requests_per_minute=args.requests_per_minute,
        )
    evaluator = Evaluator(
        args.model,
        adapters=args.adapter,
        backend=args.backend,
        cache_dir=None if args.no_cache else output_dir / "cache",
        backend_options=_backend_options(args),
    )
    results = evaluator.run(
        args.benchmarks,
        limit=args.limit,
        data_files=parse_name_path_pairs(args.data_file, "--data-file"),
        fewshot_files=parse_name_path_pairs(args.fewshot_file, "--fewshot-file"),
        protocol=args.protocol,
        num_fewshot=args.num_fewshot,
        template=args.template,
        seed=args.seed,
        judge=judge,
    )
    results.save(output_dir)
    print(results.to_markdown())
    logger.info("results written to %s", output_dir)
    return 0
