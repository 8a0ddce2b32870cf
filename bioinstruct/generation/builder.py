"""BioInstructBuilder: the self-instruct loop of the paper, resumable, budgeted and concurrent.

Orchestration only. The pipeline of one request is: sample seeds -> render prompt -> teacher ->
parse -> filters (the candidate is reserved in the similarity index in the same synchronous step
that accepts it, so concurrent replies cannot both keep a near-duplicate) -> pending label batch
-> label request -> append to instructions.jsonl. Every step is journaled before the next relies
on it (:mod:`bioinstruct.generation.journal`), so ``build()`` on the same ``output_dir`` resumes
after a normal stop, Ctrl-C or ``kill -9`` and ends with exactly ``num_instructions`` rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError, DataError
from bioinstruct.generation.filters import Blacklist
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    RUN_JSON,
    read_run_json,
    recover,
)
from bioinstruct.generation.prompting import (
    GENERATE_TEMPLATE,
    LABEL_TEMPLATE,
    render_generation_prompt,
    render_json_format,
    template_source,
)
from bioinstruct.generation.seeds import load_seed_tasks, seed_set_hash

logger = logging.getLogger(__name__)

ROW_FIELDS = (
    "id",
    "instruction",
    "input",
    "output",
    "category",
    "label_source",
    "seed_ids",
    "request_id",
    "teacher_model",
    "most_similar",
)


def _row_features() -> Any:
    import datasets

    text = datasets.Value("string")
    return datasets.Features(
        {
            "id": text,
            "instruction": text,
            "input": text,
            "output": text,
            "category": text,
            "label_source": text,
            "seed_ids": datasets.List(text),
            "request_id": text,
            "teacher_model": text,
            "most_similar": {"id": text, "score": datasets.Value("float64")},
        }
    )


def _template_hash(template: str | Path | None, bundled: str) -> str:
    """sha256 (16 hex digits, as the seed set hash in cards) of the prompt template text in use."""
    text = template_source(template, bundled)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class BioInstructBuilder:
    """Generate biomedical instructions with a teacher model (see DESIGN.md for the files it leaves)."""

    def __init__(
        self,
        output_dir: str | Path = "runs/bioinstruct",
        teacher_model: str = "gpt-4",
        base_url: str | None = None,
        api_key: str | None = None,
        seed_tasks: str | Path | list[dict] | None = None,
        num_prompt_seeds: int = 3,
        tasks_per_prompt: int = 20,
        similarity_threshold: float = 0.7,
        max_concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_cost_usd: float | None = None,
        seed: int = 0,
        *,
        prompt_template: str | Path | None = None,
        label_template: str | Path | None = None,
        json_mode: bool = False,
        batch_api: bool = False,
        label_batch_size: int = 20,
        label_attempts: int = 3,
        max_tokens: int = 3072,
        temperature: float = 1.0,
        top_p: float = 1.0,
        frequency_penalty: float | None = None,
        timeout: float = 120.0,
        max_retries: int = 6,
        similarity_tokenizer: str = "rouge",
        prices: dict[str, dict[str, float]] | None = None,
        batch_poll_interval: float = 60.0,
        progress: bool = True,
        progress_interval: float = 30.0,
        zero_yield_replies: int = 8,
        decontaminate: Sequence[str] | str | None = None,
        decontamination_data_files: dict[str, str] | None = None,
        decontamination_ngram: int = 13,  # GPT-3 / lm-eval; overlap_index.DEFAULT_NGRAM
        request_seeds: bool = True,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.seed_tasks = load_seed_tasks(seed_tasks)
        if not 1 <= num_prompt_seeds <= len(self.seed_tasks):
            raise ConfigError(
                f"num_prompt_seeds must be between 1 and {len(self.seed_tasks)} (the number of "
                f"seed tasks), got {num_prompt_seeds}"
            )
        if tasks_per_prompt <= num_prompt_seeds:
            raise ConfigError(
                f"tasks_per_prompt ({tasks_per_prompt}) must exceed num_prompt_seeds ({num_prompt_seeds})"
            )
        if not 0.0 < similarity_threshold <= 1.0:
            raise ConfigError(f"similarity_threshold must be in (0, 1], got {similarity_threshold}")
        if label_batch_size < 1 or label_attempts < 1:
            raise ConfigError("label_batch_size and label_attempts must be at least 1")
        self.teacher_model, self.base_url, self._api_key = teacher_model, base_url, api_key
        self.num_prompt_seeds, self.tasks_per_prompt = num_prompt_seeds, tasks_per_prompt
        self.similarity_threshold, self.similarity_tokenizer = similarity_threshold, similarity_tokenizer
        self.max_concurrency, self.requests_per_minute = max_concurrency, requests_per_minute
        self.tokens_per_minute, self.max_cost_usd, self.seed = tokens_per_minute, max_cost_usd, seed
        self.prompt_template, self.label_template = prompt_template, label_template
        self.json_mode, self.batch_api = json_mode, batch_api
        self.label_batch_size, self.label_attempts = label_batch_size, label_attempts
        self.max_tokens, self.temperature, self.top_p = max_tokens, temperature, top_p
        #: OpenAI's frequency_penalty (-2..2); a server that samples greedily whatever the temperature
        #: (transformers serve with a model whose generation_config has no do_sample) loops without it
        self.frequency_penalty = frequency_penalty
        #: send every request a ``seed`` derived from ``seed`` and its request id, so servers that
        #: honour it (OpenAI on a best-effort basis, vLLM, transformers serve) sample reproducibly
        self.request_seeds = request_seeds
        self.timeout, self.max_retries, self.prices = timeout, max_retries, prices
        self.batch_poll_interval, self.progress = batch_poll_interval, progress
        #: seconds between progress lines when stderr is not a terminal
        self.progress_interval = progress_interval
        #: stop (``stop_reason="zero_yield"``) after this many replies of a session keep no task; 0: never
        self.zero_yield_replies = zero_yield_replies
        bad = {"max_tokens": max_tokens, "timeout": timeout, "label_attempts": label_attempts}
        bad = {key: value for key, value in bad.items() if not value > 0}
        if not 0.0 <= temperature <= 2.0:
            bad["temperature"] = temperature
        if not 0.0 < top_p <= 1.0:
            bad["top_p"] = top_p
        if frequency_penalty is not None and not -2.0 <= frequency_penalty <= 2.0:
            bad["frequency_penalty"] = frequency_penalty
        if bad or max_retries < 0 or zero_yield_replies < 0:
            bad.update(
                {
                    k: v
                    for k, v in (("max_retries", max_retries), ("zero_yield_replies", zero_yield_replies))
                    if v < 0
                }
            )
            raise ConfigError(
                "; ".join(f"{key}={value!r} is out of range" for key, value in bad.items())
                + " (max_tokens, timeout, label_attempts > 0; temperature in [0, 2]; top_p in (0, 1]; "
                "max_retries, zero_yield_replies >= 0)"
            )
        self.seed_hash = seed_set_hash(self.seed_tasks)
        self.prompt_template_hash = _template_hash(prompt_template, GENERATE_TEMPLATE)
        self.label_template_hash = _template_hash(label_template, LABEL_TEMPLATE)
        names = decontaminate.split(",") if isinstance(decontaminate, str) else (decontaminate or [])
        #: benchmarks/groups whose test items candidates are checked against (rule ``benchmark_overlap``)
        self.decontaminate = [name.strip() for name in names if name.strip()] or None
        if decontamination_data_files and not self.decontaminate:
            raise ConfigError("decontamination_data_files were given without decontaminate=[...] benchmarks")
        if type(decontamination_ngram) is not int or decontamination_ngram < 1:
            raise ConfigError(
                f"decontamination_ngram must be a whole number >= 1, got {decontamination_ngram!r}"
            )
        self.decontamination_data_files = dict(decontamination_data_files or {})
        self.decontamination_ngram = decontamination_ngram
        #: the loaded test items (a ContaminationIndex), once build() has run with ``decontaminate``
        self._contamination: Any = None
        self._blacklist = Blacklist()
        self.stop_reason: str | None = None
        #: one line saying why the last build() stopped early (zero_yield), else None
        self.stop_message: str | None = None
        #: the endpoint of the last session, credentials stripped (set by the session; goes to run.json)
        self._teacher_url: str | None = None

    # -- public API -----------------------------------------------------------------------

    def build(self, num_instructions: int) -> Any:
        """Generate (or resume) until ``output_dir`` holds ``num_instructions`` rows; return them as a Dataset.

        Stops early, with the rows so far, when ``max_cost_usd`` would be exceeded
        (``self.stop_reason == "budget"``); raises on a rejected key or a teacher that keeps failing.
        """
        if num_instructions < 1:
            raise ConfigError(f"num_instructions must be at least 1, got {num_instructions}")
        created = not self.output_dir.exists()
        try:
            return self._build(num_instructions)
        except BaseException:
            if created:  # a run that failed before writing anything leaves no empty folder behind
                with contextlib.suppress(OSError):
                    self.output_dir.rmdir()
            raise

    def _build(self, num_instructions: int) -> Any:
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # a file in the way, no permission, read-only disk
            raise ConfigError(
                f"output_dir {str(self.output_dir)!r} cannot be used as a run folder: {err.strerror or err}"
            ) from None
        previous = read_run_json(self.output_dir / RUN_JSON)
        old_hash = previous.get("config", {}).get("seed_set_hash")
        if old_hash and old_hash != self.seed_hash:
            raise ConfigError(
                f"{self.output_dir} was generated from a different seed set (hash {old_hash}, now {self.seed_hash}); "
                "use a new output_dir or the original seed tasks"
            )
        self._check_decontamination(previous.get("config", {}))
        state = recover(self.output_dir)
        if len(state.rows) >= num_instructions:
            self.stop_reason = "complete"
            return self.dataset(limit=num_instructions)
        if self.decontaminate and self._contamination is None:  # before any request: a bad file fails fast
            from bioinstruct.generation.decontamination import ContaminationIndex

            self._contamination = ContaminationIndex.from_benchmarks(
                self.decontaminate,
                data_files=self.decontamination_data_files,
                ngram=self.decontamination_ngram,
                tokenizer=self.similarity_tokenizer,
            )
        from bioinstruct.generation.session import GenerationSession

        session = GenerationSession(self, state, num_instructions, previous.get("teacher") or {})
        try:
            asyncio.run(session.run())
        except asyncio.CancelledError:
            if session.terminated:  # SIGTERM: like Ctrl-C, run.json says "interrupted"; rerun resumes
                raise KeyboardInterrupt("SIGTERM") from None
            raise
        return self.dataset(limit=num_instructions)

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Accepted rows from instructions.jsonl, in acceptance order (a torn last line is ignored)."""
        from bioinstruct.jsonio import iter_jsonl

        path = self.output_dir / INSTRUCTIONS
        rows = list(iter_jsonl(path, tolerate_torn_tail=True)) if path.exists() else []
        return rows[:limit] if limit is not None else rows

    def dataset(self, limit: int | None = None) -> Any:
        """The accepted rows as a ``datasets.Dataset`` with a fixed schema (empty runs included)."""
        import datasets

        rows = self.rows(limit)
        # Column-wise: from_list([]) cannot apply the features of an empty run (0 rows after a budget stop).
        columns = {key: [row.get(key) for row in rows] for key in ROW_FIELDS}
        return datasets.Dataset.from_dict(columns, features=_row_features())

    def export_alpaca(self, path: str | Path, limit: int | None = None) -> Path:
        """Write the rows (the first ``limit``, like :meth:`dataset`) as an Alpaca JSON list
        (instruction/input/output) for other tools."""
        from bioinstruct.jsonio import write_records

        rows = [{k: row[k] for k in ("instruction", "input", "output")} for row in self.rows(limit)]
        try:
            return write_records(path, rows)
        except OSError as err:
            raise DataError(
                f"cannot write the Alpaca export to {str(path)!r}: {err.strerror or err}"
            ) from None

    def config(self) -> dict[str, Any]:
        """The run configuration recorded in run.json (never the API key)."""
        return {
            "teacher_model": self.teacher_model,
            "base_url": self._teacher_url,
            "seed_set_hash": self.seed_hash,
            "num_seed_tasks": len(self.seed_tasks),
            "num_prompt_seeds": self.num_prompt_seeds,
            "tasks_per_prompt": self.tasks_per_prompt,
            "similarity_threshold": self.similarity_threshold,
            "similarity_tokenizer": self.similarity_tokenizer,
            "max_concurrency": self.max_concurrency,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_cost_usd": self.max_cost_usd,
            "seed": self.seed,
            "json_mode": self.json_mode,
            "batch_api": self.batch_api,
            "prompt_template": str(self.prompt_template)
            if self.prompt_template
            else "bundled:generate.jinja",
            "label_template": str(self.label_template) if self.label_template else "bundled:label.jinja",
            "prompt_template_hash": self.prompt_template_hash,
            "label_template_hash": self.label_template_hash,
            "decontaminate": self.decontaminate,
            "decontamination_ngram": self.decontamination_ngram if self.decontaminate else None,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "frequency_penalty": self.frequency_penalty,
            "request_seeds": self.request_seeds,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "label_attempts": self.label_attempts,
        }

    def _check_decontamination(self, previous: dict[str, Any]) -> None:
        """A resumed run must check candidates as before: its report counts every session's."""
        if not previous:
            return
        before = (previous.get("decontaminate"), previous.get("decontamination_ngram"))
        now = (self.decontaminate, self.decontamination_ngram if self.decontaminate else None)
        if before != now:
            raise ConfigError(
                f"{self.output_dir} was generated with decontaminate={before[0]} (n-gram {before[1]}), now "
                f"{now[0]} (n-gram {now[1]}); resume with the same setting, or use a new output_dir "
                "(check any dataset afterwards with `bioinstruct decontaminate`)"
            )

    # -- one session ----------------------------------------------------------------------

    def request_seed(self, request_id: str) -> int | None:
        """The ``seed`` sent with request ``request_id`` (None when ``request_seeds`` is off): a
        resumed or repeated run sends the same seeds, and no two requests of a run share one."""
        return zlib.crc32(f"{self.seed}:{request_id}".encode()) if self.request_seeds else None

    def sample_seeds(self, sequence: int) -> list[dict]:
        """The seeds of generation request ``sequence``: a function of (seed, sequence) only, so resume
        and reruns draw the same prompts."""
        rng = random.Random(f"{self.seed}:{sequence}")
        return [self.seed_tasks[i] for i in rng.sample(range(len(self.seed_tasks)), self.num_prompt_seeds)]

    def generation_messages(
        self, seeds: Sequence[dict], *, json_mode: bool | None = None
    ) -> list[dict[str, str]]:
        """The generation request for ``seeds``; ``json_mode=False`` overrides the builder's
        setting (a session whose server ignores ``response_format`` asks for the numbered list)."""
        prompt = render_generation_prompt(
            seeds, num_tasks=self.tasks_per_prompt, template=self.prompt_template
        )
        if self.json_mode if json_mode is None else json_mode:
            prompt += render_json_format(first_index=len(seeds) + 1, num_tasks=self.tasks_per_prompt)
        return [{"role": "user", "content": prompt}]


__all__ = ["ROW_FIELDS", "BioInstructBuilder"]
