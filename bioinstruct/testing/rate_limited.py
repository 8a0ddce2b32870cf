"""A teacher that enforces a requests-per-minute limit, as OpenAI does, for :class:`LocalOpenAIServer`.

Why: the client's self-tuning pacing has to be shown against a server that refuses (429) what is
over its limit, that advertises the limit in OpenAI's ``x-ratelimit-*`` headers or not, and whose
limit can change mid-run. The limit is enforced like OpenAI's quantized per-minute limits: a bucket
of one second's worth of requests, refilled continuously.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from bioinstruct.testing.openai_server import Reply

DEFAULT_REPLY = "1. Instruction: Name the bone of the thigh.\n1. Input: <noinput>\n1. Output: The femur."


class RateLimitedTeacher:
    """A responder: accepts requests within ``rpm``, answers the rest with 429.

    ``advertise``: send ``x-ratelimit-limit-requests``/``-remaining-requests``/``-reset-requests``
    with every reply (OpenAI's headers), else no rate-limit header at all (and no Retry-After).
    ``latency``: seconds each accepted reply takes. :meth:`set_limit` changes the limit at once.
    """

    def __init__(
        self, rpm: float, *, advertise: bool = True, latency: float = 0.0, content: str = DEFAULT_REPLY
    ):
        self.advertise, self.latency, self.content = advertise, latency, content
        self._lock = threading.Lock()
        self.accepted: list[float] = []
        self.refused: list[float] = []
        self.set_limit(rpm)

    def set_limit(self, rpm: float) -> None:
        with self._lock:
            self.rpm = float(rpm)
            self.capacity = max(1.0, self.rpm / 60)
            self._tokens, self._updated = self.capacity, time.monotonic()

    def __call__(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            now = time.monotonic()
            rate = self.rpm / 60
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * rate)
            self._updated = now
            ok = self._tokens >= 1
            if ok:
                self._tokens -= 1
            (self.accepted if ok else self.refused).append(now)
            headers = self._headers(rate) if self.advertise else {}
        if not ok:
            return Reply("Rate limit reached for requests", status=429, headers=headers)
        return Reply(self.content, delay=self.latency, headers=headers)

    def _headers(self, rate: float) -> dict[str, str]:
        reset = (1 - self._tokens) / rate if self._tokens < 1 else 0.0
        return {
            "x-ratelimit-limit-requests": f"{self.rpm:g}",
            "x-ratelimit-remaining-requests": str(math.floor(self._tokens)),
            "x-ratelimit-reset-requests": f"{reset * 1000:.0f}ms",
        }

    def accepted_per_minute(self, since: float, until: float | None = None) -> float:
        """Accepted requests per minute between two ``time.monotonic()`` readings."""
        until = time.monotonic() if until is None else until
        count = sum(since <= t <= until for t in self.accepted)
        return 60 * count / max(until - since, 1e-9)


__all__ = ["RateLimitedTeacher"]
