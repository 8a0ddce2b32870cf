"""Retry timing and secret redaction for the teacher client's error handling.

Why this is its own module: deciding *when* to retry (the server's ``Retry-After`` /
``retry-after-ms`` headers, else exponential backoff with jitter) and keeping API keys out of
every error message and log line are pure functions of their inputs, independent of the HTTP
client. Keeping them apart lets the Batch API runner retry its management calls with the same backoff and lets them be
tested without a server. Also here: the server's reason for an HTTP error in both the OpenAI and
the FastAPI shape (:func:`error_detail`), and the in-flight limit that timeouts shrink
(:class:`ShrinkableSlots`).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import openai

_SECRET_PATTERN = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-*]{6,}")


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


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Remove API keys (the given ones and anything shaped like ``sk-...``) from a message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}-***", text)


def public_url(url: Any) -> str | None:
    """``url`` without user, password, query or fragment (``https://user:key@host/v1?k=x`` -> ``https://host/v1``).

    What may be shown of an endpoint in a message, a log line, run.json or a card.
    """
    if not url:
        return None
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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
