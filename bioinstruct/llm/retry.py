"""Retry timing for the teacher client's error handling (redaction is ``bioinstruct.secrets``).

Why this is its own module: deciding *when* to retry (the server's ``Retry-After`` /
``retry-after-ms`` headers, else exponential backoff with jitter) is a pure function of its
inputs, independent of the HTTP client. Keeping it apart lets the Batch API runner retry its management calls with the same backoff and lets them be
tested without a server. Also here: the server's reason for an HTTP error in both the OpenAI and
the FastAPI shape (:func:`error_detail`), and the in-flight limit that timeouts shrink
(:class:`ShrinkableSlots`).
"""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), else None."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            if name == "retry-after-ms":
                continue
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries spread out."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def error_detail(exc: openai.APIStatusError) -> str:
    """The server's reason for an HTTP error: OpenAI's ``error.message``, or FastAPI's ``detail``
    (``transformers serve``, vLLM: ``{"detail": "..."}`` or a list of validation errors)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("message") or body.get("detail")
    if isinstance(detail, list):  # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    return str(detail or exc.message)


class ShrinkableSlots:
    """A semaphore whose size can shrink: a request that timed out keeps running on the server,
    so sending as many again only queues them behind it (a one-at-a-time server never catches up)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.busy = limit, 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.busy < self.limit)
            self.busy += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self.busy -= 1
            self._changed.notify_all()
