"""LLM-as-judge: rate generated answers 1-5 on the paper's axes (coherence, completeness, naturalness).

Why this shape:

* Any OpenAI-compatible endpoint can judge (GPT-4 by default; a local vLLM server works the
  same), through the builder's :class:`~bioinstruct.llm.client.TeacherClient`, so
  pacing, retries on 429/5xx, the cost cap and the price table are shared, not re-implemented.
* The prompt is a Jinja file (``prompts/judge.jinja``); its SHA-256, the judge model and where
  the reference sits relative to the response (judges are position-sensitive) go into the
  results protocol, so a number can be traced to the exact prompt that produced it.
* Scores are parsed strictly: a JSON object with every axis as an integer in 1..5. Anything
  else is sent back to the judge with the problem named (up to ``max_attempts``); an item
  that never yields valid scores stays unscored and is counted, never guessed.
* No anchoring: the prompt shows the answer's *form* with ``<score>`` placeholders, never
  numbers, because a real small judge (SmolLM2-135M) returned the prompt's numeric example
  verbatim as its only "score". A reply that copies the placeholders is a parse failure that is
  retried with the problem named; a reply identical to a numeric example in a user's own
  template is kept but flagged (``copied_example``) and counted, so a summary built on copies
  can be seen for what it is.
* Data goes only where the user said: :func:`resolve_endpoint` picks the evaluation endpoint
  when the judge has none of its own and refuses to fall back to api.openai.com unnamed; the
  judge logs where it sends items, once, before its first request.
* Valid replies are cached in ``<cache_dir>/judge_cache.jsonl`` keyed by SHA-256 of (judge
  model, prompt), appended as they arrive, so a rerun or a resumed run costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from bioinstruct.errors import ConfigError
from bioinstruct.evaluation.judge_parsing import JudgeParseError, example_scores, parse_scores
from bioinstruct.jsonio import KeyedLog
from bioinstruct.llm.sync import run_sync

logger = logging.getLogger(__name__)

DEFAULT_AXES: tuple[str, ...] = ("coherence", "completeness", "naturalness")
REFERENCE_POSITIONS = ("before_response", "after_response")
TEMPLATE_NAME = "judge.jinja"
RETRY_TEMPLATE_NAME = "judge_retry.jinja"
CACHE_FILE = "judge_cache.jsonl"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


@dataclass
class JudgeResult:
    """Scores of one benchmark's predictions. ``per_item[i]`` is ``{}`` when item i stayed unscored."""

    per_item: list[dict[str, int]]
    summary: dict[str, float]
    protocol: dict[str, Any]
    cost_usd: float
    errors: list[str | None] = field(default_factory=list)
    #: The judge's last reply per item (what was parsed, or what could not be).
    replies: list[str | None] = field(default_factory=list)
    #: Items whose reply is a verbatim copy of a numeric example in the prompt.
    copied: list[bool] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        return sum(1 for scores in self.per_item if scores)


def _host(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or None) if url else None


def resolve_endpoint(judge_base_url: str | None, evaluation_base_url: str | None) -> tuple[str, str]:
    """``(judge endpoint, one line saying where judged data goes)`` for a CLI run.

    The judge's own URL wins; without one it judges on the evaluation endpoint, then on
    ``OPENAI_BASE_URL``. With none of these the data would go to api.openai.com, which the user
    never named: that is refused (:class:`ConfigError`) rather than done silently.
    """
    from bioinstruct.secrets import public_url

    env = os.environ.get("OPENAI_BASE_URL") or None
    if judge_base_url:
        url, how = judge_base_url, "--judge-base-url"
    elif evaluation_base_url:
        url, how = evaluation_base_url, "the evaluation endpoint (--base-url)"
    elif env:
        url, how = env, "OPENAI_BASE_URL"
    else:
        raise ConfigError(
            "the judge has no endpoint: without --judge-base-url, --base-url or OPENAI_BASE_URL it would "
            f"send benchmark items and predictions to {OPENAI_DEFAULT_URL}; pass --judge-base-url "
            f"{OPENAI_DEFAULT_URL} to allow that, or the URL of a local server"
        )
    line = f"judge: benchmark questions, references and predictions go to {public_url(url)} ({how})"
    if evaluation_base_url and _host(url) != _host(evaluation_base_url):
        line += f", a different host from the evaluation endpoint {public_url(evaluation_base_url)}"
    return url, line


def _load_template(name: str, path: str | Path | None = None) -> tuple[jinja2.Template, str]:
    """A Jinja template (bundled, or a user's file) and its source text."""
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"judge template {str(file)!r} not found")
        source = file.read_text(encoding="utf-8")
    else:
        source = (
            resources.files("bioinstruct.evaluation").joinpath("prompts", name).read_text(encoding="utf-8")
        )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source), source


def _reference_text(reference: Any) -> str:
    if reference is None:
        return ""
    if isinstance(reference, list | tuple):
        parts = [str(part).strip() for part in reference if str(part).strip()]
        if len(parts) == 1:
            return parts[0]
        return "\n\n".join(f"(Reference {i}) {part}" for i, part in enumerate(parts, start=1))
    return str(reference).strip()


class JudgeCache:
    """Valid judge replies keyed by SHA-256 of (judge model, prompt): a :class:`~bioinstruct.jsonio.KeyedLog`
    of ``{"key", ...record}`` lines, where a line torn by a crash is skipped and its item judged again."""

    def __init__(self, directory: str | Path | None) -> None:
        self.path = Path(directory) / CACHE_FILE if directory is not None else None
        self._log = KeyedLog(self.path, what="judge cache")

    @staticmethod
    def key(model: str, prompt: str) -> str:
        return hashlib.sha256(json.dumps([model, prompt], ensure_ascii=False).encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        return self._log.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        self._log.put(key, record)


def _benchmark_axes(benchmark: str) -> tuple[str, ...]:
    """The registered benchmark's ``judge_axes``, else the paper's three axes."""
    from bioinstruct.benchmarks import get_benchmark

    try:
        return tuple(get_benchmark(benchmark).judge_axes) or DEFAULT_AXES
    except ConfigError:
        return DEFAULT_AXES


class Judge:
    """Scores predictions with an OpenAI-compatible judge model; see the module docstring."""

    def __init__(
        self,
        model: str = "gpt-4",
        *,
        cache_dir: str | Path | None = None,
        axes: Sequence[str] | None = None,
        reference_position: str = "before_response",
        template: str | Path | None = None,
        temperature: float = 0.0,
        max_tokens: int = 100,
        max_attempts: int = 3,
        client: Any = None,
        notice: str | None = None,
        **client_options: Any,
    ) -> None:
        """``client_options`` go to the shared :class:`~bioinstruct.llm.client.TeacherClient`
        (``base_url``, ``api_key``, ``max_cost_usd``, ``max_concurrency``, ``requests_per_minute``,
        ``timeout``, ...), unless a ``client`` is given."""
        if reference_position not in REFERENCE_POSITIONS:
            raise ConfigError(
                f"judge reference_position must be one of {REFERENCE_POSITIONS}, got {reference_position!r}"
            )
        if max_attempts < 1:
            raise ConfigError(f"judge max_attempts must be >= 1, got {max_attempts}")
        if axes is not None and not axes:
            raise ConfigError("judge axes must name at least one criterion")
        self.model = model
        #: Fixed axes for every benchmark; None: each benchmark's ``judge_axes`` (else DEFAULT_AXES).
        self.axes = tuple(axes) if axes is not None else None
        self.reference_position = reference_position
        self.temperature, self.max_tokens, self.max_attempts = temperature, max_tokens, max_attempts
        self.template_name = str(template) if template is not None else TEMPLATE_NAME
        self._template, self.template_source = _load_template(TEMPLATE_NAME, template)
        self.template_sha256 = hashlib.sha256(self.template_source.encode("utf-8")).hexdigest()
        self._retry_template, _ = _load_template(RETRY_TEMPLATE_NAME)
        self.cache = JudgeCache(cache_dir)
        #: The one line logged before the first request (default: the model and the endpoint).
        self.notice = notice
        self._announced = False
        if client is None:
            from bioinstruct.llm.client import TeacherClient

            client = TeacherClient(model, **client_options)
        self.client = client

    def __repr__(self) -> str:
        return f"Judge(model={self.model!r}, axes={self.axes!r})"

    def render(self, item: dict[str, Any], axes: Sequence[str] | None = None) -> str:
        """The judge prompt for one item (``question``, ``prediction``, ``reference``)."""
        return self._template.render(
            question=str(item.get("question") or "").strip(),
            prediction=str(item.get("prediction") or "").strip(),
            reference=_reference_text(item.get("reference")),
            axes=list(axes or self.axes or DEFAULT_AXES),
            reference_position=self.reference_position,
        ).strip()

    def protocol(self, axes: Sequence[str] | None = None) -> dict[str, Any]:
        """What a results file records about the judge (no secrets)."""
        return {
            "judge_model": self.model,
            "judge_base_url": getattr(self.client, "base_url", None),
            "judge_template": self.template_name,
            "judge_template_sha256": self.template_sha256,
            "judge_prompt_template": self.template_source,
            "judge_reference_position": self.reference_position,
            "judge_axes": list(axes or self.axes or DEFAULT_AXES),
            "judge_temperature": self.temperature,
            "judge_max_attempts": self.max_attempts,
        }

    async def _score_one(self, item: dict[str, Any], axes: Sequence[str]) -> dict[str, Any]:
        """``scores`` ({} when unscored), ``cost``, ``error``, ``hit`` (cache), ``reply``, ``copied``."""
        prompt = self.render(item, axes)
        examples = example_scores(prompt, axes)
        key = JudgeCache.key(self.model, prompt)
        cached = self.cache.get(key)
        if cached is not None:
            try:
                scores = parse_scores(json.dumps(cached["scores"]), axes)
                return {
                    "scores": scores,
                    "cost": 0.0,
                    "error": None,
                    "hit": True,
                    "reply": cached.get("raw"),
                    "copied": scores in examples,
                }
            except JudgeParseError:
                pass  # cached under other axes: judge again
        from bioinstruct.llm.client import BudgetExceededError

        messages: list[dict[str, str]] = [{"role": "user", "content": prompt}]
        cost, problem, reply = 0.0, "", None
        for attempt in range(1, self.max_attempts + 1):
            try:
                completion = await self.client.complete(
                    messages, max_tokens=self.max_tokens, temperature=self.temperature, request_id=None
                )
            except BudgetExceededError as exc:  # the dollar cap: this item is counted unjudged
                error = f"not judged: {exc}"
                return {
                    "scores": {},
                    "cost": cost,
                    "error": error,
                    "hit": False,
                    "reply": reply,
                    "copied": False,
                }
            cost += completion.cost_usd
            reply = completion.text
            try:
                scores = parse_scores(reply, axes)
            except JudgeParseError as exc:
                problem = str(exc)
                logger.info(
                    "judge: unusable reply for item %s (attempt %d): %s", item.get("id"), attempt, problem
                )
                retry = self._retry_template.render(problem=problem, axes=list(axes)).strip()
                messages = [
                    *messages,
                    {"role": "assistant", "content": reply},
                    {"role": "user", "content": retry},
                ]
                continue
            self.cache.put(
                key, {"model": self.model, "item_id": item.get("id"), "scores": scores, "raw": reply}
            )
            return {
                "scores": scores,
                "cost": cost,
                "error": None,
                "hit": False,
                "reply": reply,
                "copied": scores in examples,
            }
        error = f"no valid scores after {self.max_attempts} attempts: {problem}"
        return {"scores": {}, "cost": cost, "error": error, "hit": False, "reply": reply, "copied": False}

    async def ascore(
        self, benchmark: str, items: Sequence[dict[str, Any]], axes: Sequence[str] | None = None
    ) -> JudgeResult:
        """Judge every item concurrently (the client paces); see :meth:`score`."""
        axes = tuple(axes or self.axes or _benchmark_axes(benchmark))
        if not self._announced and items:
            self._announced = True
            endpoint = getattr(self.client, "base_url", None) or "the client's endpoint"
            logger.warning(
                self.notice
                or f"judge {self.model}: sending benchmark questions, references and predictions to {endpoint}"
            )
        outcomes = await asyncio.gather(*(self._score_one(item, axes) for item in items))
        per_item = [o["scores"] for o in outcomes]
        scored = [scores for scores in per_item if scores]
        summary = {axis: sum(s[axis] for s in scored) / len(scored) for axis in axes} if scored else {}
        cost = sum(o["cost"] for o in outcomes)
        copied = [o["copied"] for o in outcomes]
        protocol = {
            **self.protocol(axes),
            "judge_items": len(items),
            "judge_unscored": len(items) - len(scored),
            "judge_copied_example": sum(copied),
            "judge_cache_hits": sum(o["hit"] for o in outcomes),
            "judge_cost_usd": cost,
        }
        if len(scored) < len(items) or any(copied):
            logger.warning(
                "judge: %s: %d of %d items scored, %d unscored, %d copied the prompt's example",
                benchmark,
                len(scored),
                len(items),
                len(items) - len(scored),
                sum(copied),
            )
        return JudgeResult(
            per_item,
            summary,
            protocol,
            cost,
            [o["error"] for o in outcomes],
            [o["reply"] for o in outcomes],
            copied,
        )

    def score(
        self, benchmark: str, items: Sequence[dict[str, Any]], axes: Sequence[str] | None = None
    ) -> JudgeResult:
        """Judge ``items`` (dicts with ``id``, ``question``, ``prediction``, ``reference``).

        Blocking; safe to call from code that already runs an event loop (it then runs in a
        worker thread).
        """

        async def run() -> JudgeResult:
            try:
                return await self.ascore(benchmark, items, axes)
            finally:
                await self.client.aclose()

        return run_sync(run())
