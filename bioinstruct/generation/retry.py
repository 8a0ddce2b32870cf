"""Retry timing and secret redaction for the teacher client's error handling.

Why this is its own module: deciding *when* to retry (the server's ``Retry-After`` /
``retry-after-ms`` headers, else exponential backoff with jitter) and keeping API keys out of
every error message and log line are pure functions of their inputs, independent of the HTTP
client. Keeping them apart lets the Batch API runner retry its management calls with the same backoff and lets them be
tested without a server.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
