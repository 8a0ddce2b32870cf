"""``GenerateConfig``: every option of ``bioinstruct generate``, one field each.

Why a dataclass: the flags, a ``--config generate.yaml`` file and the ``generate.yaml`` every run
writes into its output folder are the same fields (:func:`bioinstruct.argparsing.add_config_arguments`),
so a run is saved, rerun and resumed as one YAML file. The field's ``help`` is the flag's help.

The teacher's API key is never a field: it comes from OPENAI_API_KEY (or AZURE_OPENAI_API_KEY),
so it reaches neither the command line nor a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(kw_only=True)
class GenerateConfig:
    """The options of ``bioinstruct generate`` (``bioinstruct generate --help``)."""

    #: The effective configuration a run writes into its output folder.
    CONFIG_FILE: ClassVar[str] = "generate.yaml"

    output_dir: str = field(
        metadata={
            "help": "Run folder (instructions.jsonl, journal.jsonl, run.json, generate.yaml); "
            "rerun with the same folder to resume."
        }
    )
    num_instructions: int = field(metadata={"help": "Number of instructions to end with."})
    teacher_model: str = field(
        default="gpt-4", metadata={"help": "Model name the endpoint serves (default: gpt-4)."}
    )
    base_url: str | None = field(
        default=None,
        metadata={
            "help": "OpenAI-compatible endpoint (default: OPENAI_BASE_URL or "
            "api.openai.com). The key is read from OPENAI_API_KEY."
        },
    )
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight at once (default: 8)."})
    requests_per_minute: float | None = field(default=None, metadata={"help": "Pace requests to this rate."})
    tokens_per_minute: float | None = field(
        default=None, metadata={"help": "Pace requests to this many prompt+completion tokens per minute."}
    )
    max_cost_usd: float | None = field(
        default=None,
        metadata={
            "help": "Hard budget for the whole run (earlier sessions included); stops before exceeding it."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed for sampling the prompt's seed tasks (default: 0)."})
    seed_tasks: str | None = field(
        default=None, metadata={"help": "JSONL file of seed tasks (default: the 80 bundled ones)."}
    )
    batch_api: bool = field(
        default=False,
        metadata={
            "help": "Use the OpenAI Batch API (half price, results within 24 h); rerun to resume polling."
        },
    )
    num_prompt_seeds: int = field(default=3, metadata={"help": "Seed tasks shown per prompt (default: 3)."})
    tasks_per_prompt: int = field(default=20, metadata={"help": "Tasks asked for per prompt (default: 20)."})
    similarity_threshold: float = field(
        default=0.7,
        metadata={
            "help": "Reject candidates whose ROUGE-L to any kept instruction is at least this (default: 0.7)."
        },
    )
    prompt_template: str | None = field(
        default=None, metadata={"help": "Jinja file to use as the generation prompt."}
    )
    json_mode: bool = field(
        default=False,
        metadata={"help": "Ask for JSON replies (response_format json_object) instead of the numbered list."},
    )
    export_alpaca: str | None = field(
        default=None,
        metadata={"help": "Also write the rows as an Alpaca JSON list to PATH.", "metavar": "PATH"},
    )
    decontaminate: str | None = field(
        default=None,
        metadata={
            "help": "Reject candidates that overlap the test items of these benchmarks/groups (comma-separated, "
            "e.g. qa or medqa,pubmedqa): any shared 13-gram, or ROUGE-L >= 0.7 with a test question. "
            "Counted under rejected_by_filter.benchmark_overlap and 'decontamination' in run.json.",
            "metavar": "BENCHMARKS",
        },
    )
    include_path: list[str] | None = field(
        default=None,
        metadata={
            "help": "A benchmark declaration YAML file, or a folder of them, registered before --decontaminate "
            "resolves its names (as `bioinstruct evaluate --include-path`); repeatable.",
            "metavar": "PATH",
        },
    )
    decontamination_data_file: list[str] | None = field(
        default=None,
        metadata={
            "help": "Local test items of a --decontaminate benchmark (its Hub schema) instead of the Hub; "
            "repeatable.",
            "metavar": "NAME=PATH",
        },
    )
    max_tokens: int = field(
        default=3072,
        metadata={
            "help": "Completion tokens a generation request may use (default: 3072, room for 20 tasks; "
            "a slow local server needs far fewer, e.g. 400 with --tasks-per-prompt 4)."
        },
    )
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature of generation (default: 1.0)."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling top_p (default: 1.0)."})
    # The flag users know is --no-request-seeds (the field is true by default); the help says both.
    request_seeds: bool = field(
        default=True,
        metadata={
            "help": "Send each request a seed derived from --seed and its request id (default: true; "
            "--no-request-seeds: do not): vLLM and transformers serve then sample reproducibly, OpenAI on "
            "a best-effort basis."
        },
    )
    frequency_penalty: float | None = field(
        default=None,
        metadata={
            "help": "OpenAI frequency_penalty, -2..2 (default: not sent). transformers serve turns it into "
            "repetition_penalty 1+value, which also penalises the prompt's words: 0.3 made SmolLM2-135M "
            "write noise."
        },
    )
    request_timeout: float = field(
        default=120.0,
        metadata={
            "help": "Seconds to wait for one reply before retrying it (default: 120); each timeout also "
            "halves the requests in flight, since the server keeps generating the abandoned one."
        },
    )
    max_retries: int = field(
        default=6, metadata={"help": "Retries of a request on 429/5xx/timeouts (default: 6)."}
    )
    label_attempts: int = field(
        default=3,
        metadata={
            "help": "Requests per batch of labels before a task falls back to category OTHER (default: 3)."
        },
    )
    no_progress: bool = field(default=False, metadata={"help": "Do not show the progress bar."})
    label_template: str | None = field(
        default=None, metadata={"help": "Jinja file to use as the labelling prompt (QA / IE / GEN / OTHER)."}
    )
    label_batch_size: int = field(default=20, metadata={"help": "Tasks labelled per request (default: 20)."})
    similarity_tokenizer: str = field(
        default="rouge",
        metadata={
            "help": "ROUGE-L tokenizer of the similarity filter: rouge (rouge_score's, as the paper; default) "
            "or biomedical.",
            "choices": ["rouge", "biomedical"],
        },
    )
    batch_poll_interval: float = field(
        default=60.0, metadata={"help": "Seconds between Batch API status checks (default: 60)."}
    )
    progress_interval: float = field(
        default=30.0,
        metadata={"help": "Seconds between progress lines when stderr is not a terminal (default: 30)."},
    )
    zero_yield_replies: int = field(
        default=8,
        metadata={
            "help": "Stop (stop_reason zero_yield) after this many replies of a session keep no task; 0: never "
            "(default: 8)."
        },
    )
    # -- quality gates (issue 14): each optional, each journaled and counted like a filter --------
    review: bool = field(
        default=False,
        metadata={
            "help": "Have a reviewer model grade every kept task's output for correctness, completeness and "
            "safety (1-5 each, with a rationale); the scores become the row's review column."
        },
    )
    review_model: str | None = field(
        default=None, metadata={"help": "Reviewer model (default: the teacher model)."}
    )
    review_base_url: str | None = field(
        default=None,
        metadata={
            "help": "Reviewer's OpenAI-compatible endpoint (default: the teacher's); the key is OPENAI_API_KEY. "
            "Its cost counts against the same --max-cost-usd."
        },
    )
    review_threshold: int = field(
        default=3,
        metadata={"help": "A row passes review when every score is at least this, 1-5 (default: 3)."},
    )
    review_action: str = field(
        default="drop",
        metadata={
            "help": "What happens to a row under the threshold or whose review failed: drop (journaled as "
            "answer_review) or keep (with its scores; default: drop).",
            "choices": ["drop", "keep"],
        },
    )
    review_template: str | None = field(
        default=None,
        metadata={"help": "Jinja file to use as the review prompt (instruction, input, output)."},
    )
    screen_identifiers: str | None = field(
        default=None,
        metadata={
            "help": "Screen instruction, input and output for HIPAA Safe Harbor patient identifiers: flag "
            "(keep, listed in the row's identifiers column), drop (rejected as patient_identifiers) or "
            "redact (replaced by [KIND]); default: no screen.",
            "choices": ["flag", "drop", "redact"],
        },
    )


__all__ = ["GenerateConfig"]
