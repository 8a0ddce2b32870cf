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
import dataclasses
import hashlib
import logging
import random
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError, DataError, did_you_mean
from bioinstruct.generation.config import GenerateConfig
from bioinstruct.generation.filters import CandidateCheck
from bioinstruct.generation.gates import check_gates, check_resume, extra_features, gate_settings
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


def _row_features(config: GenerateConfig) -> Any:
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
            **extra_features(config),
        }
    )


def _template_hash(template: str | Path | None, bundled: str) -> str:
    """sha256 (16 hex digits, as the seed set hash in cards) of the prompt template text in use."""
    text = template_source(template, bundled)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_settings(config: GenerateConfig, n_seeds: int) -> None:
    """Every out-of-range setting in one line, before anything runs."""
    if not 1 <= config.num_prompt_seeds <= n_seeds:
        raise ConfigError(
            f"num_prompt_seeds must be between 1 and {n_seeds} (the number of "
            f"seed tasks), got {config.num_prompt_seeds}"
        )
    if config.tasks_per_prompt <= config.num_prompt_seeds:
        raise ConfigError(
            f"tasks_per_prompt ({config.tasks_per_prompt}) must exceed num_prompt_seeds ({config.num_prompt_seeds})"
        )
    if not 0.0 < config.similarity_threshold <= 1.0:
        raise ConfigError(f"similarity_threshold must be in (0, 1], got {config.similarity_threshold}")
    if config.label_batch_size < 1 or config.label_attempts < 1:
        raise ConfigError("label_batch_size and label_attempts must be at least 1")
    positive = {
        "max_tokens": config.max_tokens,
        "timeout": config.request_timeout,
        "label_attempts": config.label_attempts,
    }
    bad = {key: value for key, value in positive.items() if not value > 0}
    if not 0.0 <= config.temperature <= 2.0:
        bad["temperature"] = config.temperature
    if not 0.0 < config.top_p <= 1.0:
        bad["top_p"] = config.top_p
    if config.frequency_penalty is not None and not -2.0 <= config.frequency_penalty <= 2.0:
        bad["frequency_penalty"] = config.frequency_penalty
    bad.update(
        {
            k: v
            for k, v in (
                ("max_retries", config.max_retries),
                ("zero_yield_replies", config.zero_yield_replies),
            )
            if v < 0
        }
    )
    if bad:
        raise ConfigError(
            "; ".join(f"{key}={value!r} is out of range" for key, value in bad.items())
            + " (max_tokens, timeout, label_attempts > 0; temperature in [0, 2]; top_p in (0, 1]; "
            "max_retries, zero_yield_replies >= 0)"
        )


#: Keyword names of the Python API that differ from the GenerateConfig field they set.
_KEYWORD_FIELDS = {"timeout": "request_timeout"}


class BioInstructBuilder:
    """Generate biomedical instructions with a teacher model (see DESIGN.md for the files it leaves).

    Configured by one :class:`~bioinstruct.generation.config.GenerateConfig` (the fields of
    ``bioinstruct generate``; its ``generate.yaml`` reruns a run), or by keyword arguments that
    build one: ``BioInstructBuilder("runs/x", teacher_model="gpt-4", max_cost_usd=600)``. Keywords
    given with a config override its fields. What is not configuration comes separately: the API
    key (never in a config or a file), a ``decontamination`` rule (a ``CandidateCheck`` such as
    ``bioinstruct.decontamination.BenchmarkOverlap``), seed tasks as a list of dicts, and a price
    table. The builder is the configuration plus the public API; each ``build()`` runs a
    :class:`~bioinstruct.generation.session.GenerationSession`, which owns the run's state.
    """

    def __init__(
        self,
        config: GenerateConfig | str | Path | None = None,
        *,
        api_key: str | None = None,
        decontamination: CandidateCheck | None = None,
        seed_tasks: str | Path | list[dict] | None = None,
        prices: dict[str, dict[str, float]] | None = None,
        progress: bool | None = None,
        **settings: Any,
    ) -> None:
        if not isinstance(config, GenerateConfig):  # an output folder (or nothing) and keywords
            folder = str(config) if config is not None else settings.pop("output_dir", "runs/bioinstruct")
            config = GenerateConfig(
                output_dir=folder, num_instructions=settings.pop("num_instructions", None)
            )
        unknown = sorted(set(settings) - set(_KEYWORD_FIELDS) - {f.name for f in dataclasses.fields(config)})
        if unknown:
            names = [f.name for f in dataclasses.fields(config)] + list(_KEYWORD_FIELDS)
            raise ConfigError(f"unknown setting {unknown[0]!r}{did_you_mean(unknown[0], names)}")
        settings = {_KEYWORD_FIELDS.get(key, key): value for key, value in settings.items()}
        if progress is not None:
            settings["no_progress"] = not progress
        if seed_tasks is not None and not isinstance(seed_tasks, list):
            settings["seed_tasks"] = str(seed_tasks)
        #: every setting of the run (recorded in run.json and, by the CLI, in generate.yaml)
        self.config: GenerateConfig = dataclasses.replace(config, **settings)
        self.output_dir = Path(self.config.output_dir)
        self.seed_tasks = load_seed_tasks(
            seed_tasks if isinstance(seed_tasks, list) else self.config.seed_tasks
        )
        self.api_key, self.prices = api_key, prices
        #: the benchmark-overlap rule candidates must pass (``benchmark_overlap``), or None
        self.decontamination = decontamination
        _check_settings(self.config, len(self.seed_tasks))
        check_gates(self.config, prices)
        self.seed_hash = seed_set_hash(self.seed_tasks)
        self.prompt_template_hash = _template_hash(self.config.prompt_template, GENERATE_TEMPLATE)
        self.label_template_hash = _template_hash(self.config.label_template, LABEL_TEMPLATE)
        #: why the last build() stopped (complete, budget, zero_yield, stalled, ...), from its session
        self.stop_reason: str | None = None
        #: one line saying why the last build() stopped early (zero_yield), else None
        self.stop_message: str | None = None
        #: the endpoint of the last session, credentials stripped (goes to run.json)
        self.teacher_url: str | None = None
        #: the reviewer's endpoint of the last session (answer review), credentials stripped
        self.reviewer_url: str | None = None

    # -- public API -----------------------------------------------------------------------

    def build(self, num_instructions: int | None = None) -> Any:
        """Generate (or resume) until ``output_dir`` holds ``num_instructions`` rows (default: the
        config's); return them as a Dataset.

        Stops early, with the rows so far, when ``max_cost_usd`` would be exceeded
        (``self.stop_reason == "budget"``); raises on a rejected key or a teacher that keeps failing.
        """
        num_instructions = self.config.num_instructions if num_instructions is None else num_instructions
        if num_instructions is None or num_instructions < 1:
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
        check_resume(self.output_dir, previous.get("config", {}), self.config)
        state = recover(self.output_dir)
        if len(state.rows) >= num_instructions:
            self.stop_reason = "complete"
            return self.dataset(limit=num_instructions)
        if self.decontamination is not None:
            self.decontamination.prepare()  # its test items: a bad file fails before any request
        from bioinstruct.generation.session import GenerationSession

        session = GenerationSession(self, state, num_instructions, previous.get("teacher") or {})
        try:
            asyncio.run(session.run())
        except asyncio.CancelledError:
            if session.terminated:  # SIGTERM: like Ctrl-C, run.json says "interrupted"; rerun resumes
                raise KeyboardInterrupt("SIGTERM") from None
            raise
        finally:
            self.stop_reason, self.stop_message = session.stop_reason, session.stop_message
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
        features = _row_features(self.config)
        columns = {key: [row.get(key) for row in rows] for key in features}
        return datasets.Dataset.from_dict(columns, features=features)

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

    def run_settings(self) -> dict[str, Any]:
        """The run configuration recorded in run.json's ``config`` (never the API key)."""
        c = self.config
        copied = ("teacher_model", "num_prompt_seeds", "tasks_per_prompt", "similarity_threshold",
                  "similarity_tokenizer", "max_concurrency", "requests_per_minute", "tokens_per_minute",
                  "max_cost_usd", "seed", "json_mode", "batch_api")  # fmt: skip
        sampling = ("max_tokens", "temperature", "top_p", "frequency_penalty", "request_seeds")
        return {
            "teacher_model": c.teacher_model,
            "base_url": self.teacher_url,
            "seed_set_hash": self.seed_hash,
            "num_seed_tasks": len(self.seed_tasks),
            "seed_tasks": c.seed_tasks,  # the file (None: the bundled 80, or a list given in Python)
            **{name: getattr(c, name) for name in copied[1:]},
            "prompt_template": str(c.prompt_template) if c.prompt_template else "bundled:generate.jinja",
            "label_template": str(c.label_template) if c.label_template else "bundled:label.jinja",
            "prompt_template_hash": self.prompt_template_hash,
            "label_template_hash": self.label_template_hash,
            **self._decontamination_setting(),
            **{name: getattr(c, name) for name in sampling},
            "timeout": c.request_timeout,
            "max_retries": c.max_retries,
            "label_attempts": c.label_attempts,
            **gate_settings(c, self.reviewer_url),
        }

    def _decontamination_setting(self) -> dict[str, Any]:
        check = self.decontamination
        return {
            "decontaminate": list(check.benchmarks) if check else None,
            "decontamination_ngram": check.ngram if check else None,
        }

    def _check_decontamination(self, previous: dict[str, Any]) -> None:
        """A resumed run must check candidates as before: its report counts every session's."""
        if not previous:
            return
        before = (previous.get("decontaminate"), previous.get("decontamination_ngram"))
        now = tuple(self._decontamination_setting().values())
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
        return zlib.crc32(f"{self.config.seed}:{request_id}".encode()) if self.config.request_seeds else None

    def sample_seeds(self, sequence: int) -> list[dict]:
        """The seeds of generation request ``sequence``: a function of (seed, sequence) only, so resume
        and reruns draw the same prompts."""
        rng = random.Random(f"{self.config.seed}:{sequence}")
        return [
            self.seed_tasks[i] for i in rng.sample(range(len(self.seed_tasks)), self.config.num_prompt_seeds)
        ]

    def generation_messages(
        self, seeds: Sequence[dict], *, json_mode: bool | None = None
    ) -> list[dict[str, str]]:
        """The generation request for ``seeds``; ``json_mode=False`` overrides the builder's
        setting (a session whose server ignores ``response_format`` asks for the numbered list)."""
        tasks = self.config.tasks_per_prompt
        prompt = render_generation_prompt(seeds, num_tasks=tasks, template=self.config.prompt_template)
        if self.config.json_mode if json_mode is None else json_mode:
            prompt += render_json_format(first_index=len(seeds) + 1, num_tasks=tasks)
        return [{"role": "user", "content": prompt}]


__all__ = ["ROW_FIELDS", "BioInstructBuilder"]
