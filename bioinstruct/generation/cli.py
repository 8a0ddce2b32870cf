"""`bioinstruct generate`: the BioInstructBuilder from the command line.

Why no ``--api-key`` flag: a key on the command line lands in shell history and process lists.
The key comes from OPENAI_API_KEY (or AZURE_OPENAI_API_KEY); the endpoint from ``--base-url`` or
OPENAI_BASE_URL. Rerunning the same command resumes the run in ``--output-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from bioinstruct.errors import ConfigError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        required=True,
        help="Run folder (instructions.jsonl, journal.jsonl, run.json); "
        "rerun with the same folder to resume.",
    )
    parser.add_argument(
        "--num-instructions", type=int, required=True, help="Number of instructions to end with."
    )
    parser.add_argument(
        "--teacher-model", default="gpt-4", help="Model name the endpoint serves (default: gpt-4)."
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL or "
        "api.openai.com). The key is read from OPENAI_API_KEY.",
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=8, help="Requests in flight at once (default: 8)."
    )
    parser.add_argument("--requests-per-minute", type=float, default=None, help="Pace requests to this rate.")
    parser.add_argument(
        "--tokens-per-minute",
        type=float,
        default=None,
        help="Pace requests to this many prompt+completion tokens per minute.",
    )
    parser.add_argument(
        "--max-cost-usd",
        type=float,
        default=None,
        help="Hard budget for the whole run (earlier sessions included); stops before exceeding it.",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="Seed for sampling the prompt's seed tasks (default: 0)."
    )
    parser.add_argument(
        "--seed-tasks", default=None, help="JSONL file of seed tasks (default: the 80 bundled ones)."
    )
    parser.add_argument(
        "--batch-api",
        action="store_true",
        help="Use the OpenAI Batch API (half price, results within 24 h); rerun to resume polling.",
    )
    parser.add_argument(
        "--num-prompt-seeds", type=int, default=3, help="Seed tasks shown per prompt (default: 3)."
    )
    parser.add_argument(
        "--tasks-per-prompt", type=int, default=20, help="Tasks asked for per prompt (default: 20)."
    )
    parser.add_argument(
        "--similarity-threshold",
        type=float,
        default=0.7,
        help="Reject candidates whose ROUGE-L to any kept instruction is at least this (default: 0.7).",
    )
    parser.add_argument("--prompt-template", default=None, help="Jinja file to use as the generation prompt.")
    parser.add_argument(
        "--json-mode",
        action="store_true",
        help="Ask for JSON replies (response_format json_object) instead of the numbered list.",
    )
    parser.add_argument(
        "--export-alpaca",
        default=None,
        metavar="PATH",
        help="Also write the rows as an Alpaca JSON list to PATH.",
    )
    parser.add_argument(
        "--decontaminate",
        default=None,
        metavar="BENCHMARKS",
        help="Reject candidates that overlap the test items of these benchmarks/groups (comma-separated, "
        "e.g. qa or medqa,pubmedqa): any shared 13-gram, or ROUGE-L >= 0.7 with a test question. "
        "Counted under rejected_by_filter.benchmark_overlap and 'decontamination' in run.json.",
    )
    parser.add_argument(
        "--decontamination-data-file",
        action="append",
        metavar="NAME=PATH",
        help="Local test items of a --decontaminate benchmark (its Hub schema) instead of the Hub; repeatable.",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=3072,
        help="Completion tokens a generation request may use (default: 3072, room for 20 tasks; "
        "a slow local server needs far fewer, e.g. 400 with --tasks-per-prompt 4).",
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="Sampling temperature of generation (default: 1.0)."
    )
    parser.add_argument("--top-p", type=float, default=1.0, help="Nucleus sampling top_p (default: 1.0).")
    parser.add_argument(
        "--no-request-seeds",
        dest="request_seeds",
        action="store_false",
        help="Do not send each request a seed derived from --seed and its request id (sent by default: "
        "vLLM and transformers serve then sample reproducibly, OpenAI on a best-effort basis).",
    )
    parser.add_argument(
        "--frequency-penalty",
        type=float,
        default=None,
        help="OpenAI frequency_penalty, -2..2 (default: not sent). transformers serve turns it into "
        "repetition_penalty 1+value, which also penalises the prompt's words: 0.3 made SmolLM2-135M write noise.",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="Seconds to wait for one reply before retrying it (default: 120); each timeout also "
        "halves the requests in flight, since the server keeps generating the abandoned one.",
    )
    parser.add_argument(
        "--max-retries", type=int, default=6, help="Retries of a request on 429/5xx/timeouts (default: 6)."
    )
    parser.add_argument(
        "--label-attempts",
        type=int,
        default=3,
        help="Requests per batch of labels before a task falls back to category OTHER (default: 3).",
    )
    parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")


def _check_export_path(path: str) -> None:
    """Fail before the run, not after hours of generation, when the export cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"--export-alpaca {path!r} is a folder; pass a file path such as {path}/alpaca.json"
        )
    parent = next((p for p in target.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--export-alpaca {path!r}: {str(parent)!r} is a file, not a folder")


def run(args: argparse.Namespace) -> int:
    from bioinstruct.cli_args import parse_name_path_pairs
    from bioinstruct.generation.builder import BioInstructBuilder

    if args.export_alpaca:
        _check_export_path(args.export_alpaca)
    api_key = os.environ.get("OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_API_KEY")
    if not api_key:  # before the run folder exists: a failed start leaves nothing behind
        server = args.base_url or os.environ.get("OPENAI_BASE_URL")
        raise ConfigError(
            "no teacher API key: set OPENAI_API_KEY (Azure: AZURE_OPENAI_API_KEY); a local server that "
            "checks no key accepts any value, e.g. OPENAI_API_KEY=local"
            + ("" if server else " with --base-url http://localhost:8000/v1")
        )
    builder = BioInstructBuilder(
        output_dir=args.output_dir,
        teacher_model=args.teacher_model,
        base_url=args.base_url,
        api_key=api_key,
        seed_tasks=args.seed_tasks,
        num_prompt_seeds=args.num_prompt_seeds,
        tasks_per_prompt=args.tasks_per_prompt,
        similarity_threshold=args.similarity_threshold,
        max_concurrency=args.max_concurrency,
        requests_per_minute=args.requests_per_minute,
        tokens_per_minute=args.tokens_per_minute,
        max_cost_usd=args.max_cost_usd,
        seed=args.seed,
        prompt_template=args.prompt_template,
        json_mode=args.json_mode,
        batch_api=args.batch_api,
        progress=not args.no_progress,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        frequency_penalty=args.frequency_penalty,
        request_seeds=args.request_seeds,
        timeout=args.request_timeout,
        max_retries=args.max_retries,
        label_attempts=args.label_attempts,
        decontaminate=args.decontaminate,
        decontamination_data_files=parse_name_path_pairs(
            args.decontamination_data_file, "--decontamination-data-file"
        ),
    )
    dataset = builder.build(args.num_instructions)
    if args.export_alpaca:
        builder.export_alpaca(args.export_alpaca, limit=args.num_instructions)
    summary = {
        "rows": len(dataset),
        "target": args.num_instructions,
        "stop_reason": builder.stop_reason,
        "output_dir": str(builder.output_dir),
    }
    print(json.dumps(summary))
    if len(dataset) < args.num_instructions and builder.stop_reason == "zero_yield":
        return 1  # the session already said why, in one line (builder.stop_message)
    if len(dataset) < args.num_instructions:
        how = (
            "raise --max-cost-usd (it caps the whole run) and rerun to continue"
            if builder.stop_reason == "budget"
            else "rerun the same command to continue"
        )
        logger.warning(
            "stopped at %d of %d rows (%s); %s", len(dataset), args.num_instructions, builder.stop_reason, how
        )
        return 1
    return 0
