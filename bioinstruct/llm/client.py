"""Async client for the teacher model: any OpenAI-compatible endpoint, paced, retried and budgeted.

Why this exists instead of calling ``openai.AsyncOpenAI`` directly: a 25k-instruction run sends
thousands of multi-thousand-token requests. It must (1) stay under the account's request and token
rate limits *before* the server has to refuse (pacing with ``aiolimiter``), (2) survive 429s, 5xx
and timeouts without losing a request, while stopping at once on 401/403/404 instead of retrying
a dead key thousands of times, (3) count retries by cause for ``run.json``, and (4) never spend more
than ``max_cost_usd``: the worst-case cost of every request is reserved before it is sent and
settled from the reported usage on reply. The SDK's own retries are therefore switched off
(``max_retries=0``) so each retry re-acquires its rate-limit slot and is counted.

This module does (1) and (2)'s retry loop; what a failure means and what a request returns
(:class:`Completion`, the ``TeacherError`` family) are in ``outcomes``, the dollar ledger of (4) is
``ledger.CostLedger`` (a mixin of the client), and the names are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import openai
from aiolimiter import AsyncLimiter
from openai.types.chat import ChatCompletion

from bioinstruct.errors import ConfigError
from bioinstruct.llm import outcomes
from bioinstruct.llm.ledger import CostLedger

# Re-exported: batch.py, the stages, the benchmarks and the tests import these names from this module.
from bioinstruct.llm.outcomes import (
    RETRY_CAUSES,
    BudgetExceededError,
    Completion,
    TeacherAuthError,
    TeacherError,
    TeacherRequestError,
    TeacherStats,
    TeacherUnavailableError,
    _MalformedReplyError,
    _MissingCredentialsError,
)
from bioinstruct.llm.pacing import START_RPM, AdvertisedLimits, Pacer
from bioinstruct.llm.pricing import (
    estimate_prompt_tokens,
    load_price_table,
    prompt_token_bound,
    resolve_price,
)
from bioinstruct.llm.retry import (
    ShrinkableSlots,
    backoff_delay,
    error_detail,
    parse_retry_after,
)
from bioinstruct.secrets import public_url, redact

__all__ = [
    "RETRY_CAUSES",
    "BudgetExceededError",
    "Completion",
    "TeacherAuthError",
    "TeacherClient",
    "TeacherError",
    "TeacherRequestError",
    "TeacherStats",
    "TeacherUnavailableError",
    "backoff_delay",
    "error_detail",
    "estimate_prompt_tokens",
    "load_price_table",
    "parse_retry_after",
    "prompt_token_bound",
    "resolve_price",
]

logger = logging.getLogger(__name__)


@dataclass
class _LoopState:
    """Everything bound to one event loop (the SDK's HTTP pool, limiters, concurrency slots)."""

    loop: asyncio.AbstractEventLoop
    sdk: openai.AsyncOpenAI
    semaphore: ShrinkableSlots
    rpm: AsyncLimiter | None
    tpm: AsyncLimiter | None
    budget_changed: asyncio.Event
    #: the :class:`Pacer` version the limiters were built for
    pacing: int = -1


class TeacherClient(CostLedger):
    """Paced, retrying, budget-capped chat-completions client (OpenAI, Azure OpenAI, vLLM, ...)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_cost_usd: float | None = None,
        spent_usd: float = 0.0,
        timeout: float = 120.0,
        max_retries: int = 6,
        prices: dict[str, dict[str, float]] | None = None,
        azure_api_version: str | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_retry_wait: float = 120.0,
        max_tokens_field: str | None = None,
    ) -> None:
        limits = {"requests_per_minute": requests_per_minute, "tokens_per_minute": tokens_per_minute}
        positive = {"max_concurrency": max_concurrency, "timeout": timeout, **limits}
        non_negative = {"max_retries": max_retries, "spent_usd": spent_usd, "max_cost_usd": max_cost_usd}
        bad = [f"{k}={v!r} (must be > 0)" for k, v in positive.items() if v is not None and v <= 0]
        bad += [f"{k}={v!r} (must be >= 0)" for k, v in non_negative.items() if v is not None and v < 0]
        if bad:
            raise ConfigError("teacher: " + "; ".join(bad))
        self.model, self.max_concurrency = model, int(max_concurrency)
        self.requests_per_minute, self.tokens_per_minute = requests_per_minute, tokens_per_minute
        #: the rates paced to: the typed limits as ceilings, the server's headers, or learned by AIMD
        start = max(START_RPM, 60.0 * max_concurrency)
        self.pacer = Pacer(requests_per_minute, tokens_per_minute, start_rpm=start)
        self.max_cost_usd = max_cost_usd
        self.spent_usd = float(spent_usd)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base, self.backoff_max, self.max_retry_wait = backoff_base, backoff_max, max_retry_wait
        self.azure_api_version = azure_api_version
        self.max_tokens_field = max_tokens_field or (
            "max_completion_tokens" if re.match(r"(o\d|gpt-5)", model) else "max_tokens"
        )
        table = load_price_table()["models"]
        self.price = resolve_price(model, {**table, **(prices or {})})
        if self.price is None and max_cost_usd is not None:
            raise ConfigError(
                f"teacher: no price known for model {model!r}, so max_cost_usd cannot be enforced; pass "
                f'prices={{"{model}": {{"input": USD_PER_1M, "output": USD_PER_1M}}}} (known: {sorted(table)})'
            )
        self.stats = TeacherStats()
        #: requests in flight at most now: halved (down to 1) by each timeout, see :class:`ShrinkableSlots`
        self.concurrency_limit = self.max_concurrency
        self._base_url = base_url
        self._api_key = api_key
        self._reserved = 0.0
        self._budget_group = [self]
        self._pause_until = 0.0
        self._fatal: str | None = None  # set by the first auth/quota error: later requests stop unsent
        self._state: _LoopState | None = None
        # Built now to fail fast on missing credentials; bound to a loop on first use.
        self._spare_sdk: openai.AsyncOpenAI | None = self._make_sdk()
        self._public_base_url = public_url(str(self._spare_sdk.base_url))

    def __repr__(self) -> str:
        return f"TeacherClient(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The endpoint, without any credentials embedded in the URL."""
        return self._public_base_url

    def _make_sdk(self) -> openai.AsyncOpenAI:
        try:
            if self.azure_api_version:
                return openai.AsyncAzureOpenAI(
                    azure_endpoint=self._base_url,
                    api_version=self.azure_api_version,
                    api_key=self._api_key,
                    timeout=self.timeout,
                    max_retries=0,
                )
            return openai.AsyncOpenAI(
                base_url=self._base_url, api_key=self._api_key, timeout=self.timeout, max_retries=0
            )
        except (openai.OpenAIError, ValueError) as exc:
            raise _MissingCredentialsError(
                f"teacher: cannot create the client ({redact(str(exc), (self._api_key,))}). Set the "
                "environment variable OPENAI_API_KEY (Azure: AZURE_OPENAI_API_KEY and an endpoint), or pass "
                "api_key= in Python; a local server accepts any key: OPENAI_API_KEY=local bioinstruct ..."
            ) from None

    def _loop_state(self) -> _LoopState:
        """State for the running loop; rebuilt when a later ``asyncio.run`` reuses this client."""
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            sdk, self._spare_sdk = self._spare_sdk or self._make_sdk(), None
            slots = ShrinkableSlots(self.concurrency_limit)
            self._state = _LoopState(loop, sdk, slots, None, None, asyncio.Event())
        return self._state

    async def _limiters(self, state: _LoopState) -> None:
        """(Re)build the per-minute limiters whose rate the pacer changed. The burst is one second's
        worth for a known limit (OpenAI quantizes per-minute limits to short windows), one request
        while AIMD is still learning; a rebuilt limiter starts with its burst spent (the old one's
        burst has just gone out)."""
        first, state.pacing = state.pacing < 0, self.pacer.version
        for attribute, rate in (("rpm", self.pacer.rpm), ("tpm", self.pacer.tpm)):
            current = getattr(state, attribute)
            if (
                current is not None
                and rate
                and math.isclose(current.max_rate * 60 / current.time_period, rate)
            ):
                continue
            limiter = None
            if rate:
                burst = max(1.0, rate / 60) if attribute == "tpm" or not self.pacer.learning else 1.0
                limiter = AsyncLimiter(burst, 60 * burst / rate)
                if not first:
                    await limiter.acquire(burst)
            setattr(state, attribute, limiter)

    async def _pace(self, state: _LoopState, tokens: int) -> None:
        while (wait := self._pause_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        while True:  # a request that waited at a limiter the pacer has since replaced waits again
            if state.pacing != self.pacer.version:
                await self._limiters(state)
            version = state.pacing
            if state.rpm is not None:
                await state.rpm.acquire()
            if state.pacing == version:
                break
        if state.tpm is not None:
            if tokens > self.pacer.tpm:
                raise ConfigError(
                    f"teacher: one request needs ~{tokens} tokens (prompt + max_tokens), more than "
                    f"tokens_per_minute={self.pacer.tpm:.0f}; lower max_tokens or raise the limit"
                )
            while tokens > 0:
                chunk = min(tokens, state.tpm.max_rate)
                await state.tpm.acquire(chunk)
                tokens -= chunk

    def classify_error(self, exc: BaseException) -> tuple[str, float | None]:
        """Map an exception to (retry cause, server-requested delay), or raise the final TeacherError
        (see :func:`bioinstruct.llm.outcomes.classify_error`); an auth or quota error stops later requests."""
        try:
            return outcomes.classify_error(exc, self.model, self._api_key)
        except TeacherAuthError as err:
            self._fatal = str(err)
            raise

    async def complete(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 3072,
        temperature: float = 1.0,
        top_p: float = 1.0,
        frequency_penalty: float | None = None,
        response_format: dict | None = None,
        stop: list[str] | None = None,
        request_id: str | None = None,
        seed: int | None = None,
    ) -> Completion:
        """Send one chat request; retry transient failures; return the completion with its cost.

        ``seed`` is OpenAI's sampling seed; each retry sends the same one (the request is the same).
        """
        if self._fatal is not None:
            raise TeacherAuthError(self._fatal)
        state = self._loop_state()
        request_id = request_id or uuid.uuid4().hex
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            self.max_tokens_field: max_tokens,
        }
        params.update(temperature=temperature, top_p=top_p)
        if frequency_penalty:  # transformers serve maps it to repetition_penalty = 1 + value
            params["frequency_penalty"] = frequency_penalty
        if response_format is not None:
            params["response_format"] = response_format
        if stop:
            params["stop"] = stop
        if seed is not None:
            params["seed"] = seed
        reservation = self.estimate_cost(messages, max_tokens)
        await self._reserve(state, reservation)
        self.stats.requests += 1
        cost = 0.0
        try:
            response, attempts = await self._send(state, params, request_id, reservation)
            completion = self.to_completion(response, request_id, attempts)
            if response.usage is None:  # unknown usage: charge the worst case so the cap still holds
                completion.cost_usd = reservation if self.price else 0.0
            cost = completion.cost_usd
            self.record(completion)
            return completion
        except asyncio.CancelledError:
            self.stats.cancelled += 1
            raise
        except BaseException:
            self.stats.failed += 1
            raise
        finally:
            self.settle(reservation, cost)

    async def _send(
        self, state: _LoopState, params: dict[str, Any], request_id: str, reservation: float
    ) -> tuple[ChatCompletion, int]:
        pace_tokens = estimate_prompt_tokens(params["messages"]) + params[self.max_tokens_field]
        attempt = 0
        while True:
            attempt += 1
            try:
                async with state.semaphore:
                    if self._fatal is not None:  # another request hit 401/403/404: do not send this one
                        raise TeacherAuthError(self._fatal)
                    await self._pace(state, pace_tokens)
                    self.pacer.on_send()
                    async with asyncio.timeout(self.timeout):
                        raw = await state.sdk.chat.completions.with_raw_response.create(
                            **params, extra_headers={"X-Client-Request-Id": request_id}
                        )
                    self._observe(raw.headers)
                    response = raw.parse()
                    if not response.choices:
                        raise _MalformedReplyError("reply without choices")
                    return response, attempt
            except (openai.OpenAIError, TimeoutError, _MalformedReplyError) as exc:
                if isinstance(exc, openai.APIStatusError):
                    self._observe(exc.response.headers, refused=exc.status_code in (429, 503, 529))
                cause, retry_after = self.classify_error(exc)
                if cause == "timeout":
                    self._after_timeout(state)
                    if self.max_cost_usd is not None:
                        self.stats.unconfirmed_cost_usd += reservation
                if attempt > self.max_retries:
                    raise TeacherUnavailableError(
                        f"teacher {self.model!r} at {self.base_url}: request {request_id} failed {attempt} times; last cause "
                        f"{self.describe_cause(cause, exc, params.get(self.max_tokens_field))}"
                    ) from None
                if cause == "timeout" and self.max_cost_usd is not None:
                    # The timed-out attempt may still be billed (it now counts as unconfirmed), so
                    # the retry needs a reservation of its own: wait for one, or stop at the cap.
                    self._reserved = max(0.0, self._reserved - reservation)
                    try:
                        await self._reserve(state, reservation)
                    except BudgetExceededError:
                        self._reserved += reservation  # complete() releases it, as for any failure
                        raise
                self.stats.retries[cause] += 1
                if retry_after is not None:
                    delay = min(retry_after, self.max_retry_wait)
                    if cause == "rate_limit":  # the server asked everyone to wait, not just this request
                        self._pause_until = max(self._pause_until, time.monotonic() + delay)
                else:
                    delay = backoff_delay(attempt, self.backoff_base, self.backoff_max)
                logger.info(
                    "teacher: %s on %s (attempt %d), retrying in %.2fs", cause, request_id, attempt, delay
                )
                await asyncio.sleep(delay)

    def _observe(self, headers: Any, refused: bool = False) -> None:
        """Feed a reply's rate-limit headers (or a refusal) to the pacer; wait for a reset when
        the headers say nothing remains."""
        limits = AdvertisedLimits.from_headers(headers)
        (self.pacer.on_refusal if refused else self.pacer.on_reply)(limits)
        if limits is not None and (wait := limits.wait()) > 0:
            self._pause_until = max(self._pause_until, time.monotonic() + min(wait, self.max_retry_wait))

    def _after_timeout(self, state: _LoopState) -> None:
        """Halve the requests in flight: the abandoned one is still generating on the server."""
        if self.concurrency_limit > 1:
            self.concurrency_limit = max(1, self.concurrency_limit // 2)
            state.semaphore.limit = self.concurrency_limit
            logger.warning(
                "teacher: a request timed out after %.0f s; at most %d in flight from now on",
                self.timeout,
                self.concurrency_limit,
            )

    def describe_cause(self, cause: str, exc: BaseException, max_tokens: int | None = None) -> str:
        """One phrase for the journal: the cause, the limit that was hit, and how to change it."""
        return outcomes.describe_cause(
            cause, exc, timeout=self.timeout, api_key=self._api_key, max_tokens=max_tokens
        )

    def sdk(self) -> openai.AsyncOpenAI:
        """The underlying SDK client for the running loop (the Batch API runner uses it)."""
        return self._loop_state().sdk

    async def aclose(self) -> None:
        if self._state is not None and self._state.loop is asyncio.get_running_loop():
            await self._state.sdk.close()
        self._state = None
