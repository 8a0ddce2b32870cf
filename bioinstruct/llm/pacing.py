"""Self-tuning pacing: the request and token rates a client sends at, learned from the server.

Why: a user who does not know their account's tier either wastes it (pacing far below the limit)
or drowns in 429s (no pacing), and a limit that changes mid-run (a shared key, another job) goes
unnoticed. Two sources, in order of trust:

* **The rate-limit headers** OpenAI (and Azure, vLLM behind a gateway, LiteLLM) send with every
  reply: ``x-ratelimit-limit-requests``/``-tokens`` (per minute), ``x-ratelimit-remaining-*`` and
  ``x-ratelimit-reset-*`` (``"1s"``, ``"6m0s"``, ``"20ms"``). The client paces to 98% of the
  advertised limits, follows them when they change, and waits for the reset when nothing remains.
* **AIMD** when the server advertises nothing (the scheme TCP and NeMo DataDesigner use): start
  at ``START_RPM`` or one request per second per concurrency slot if more, evenly spaced (no
  burst: the first reply may carry the headers), double every quarter second while no request is refused (never past twice what
  was actually sent), cut to ``CUT`` of the rate (or of what was sent, if less) on the first 429 of a burst (one cut per second: the
  429s of requests already in flight are the same signal), then grow by ``GROWTH`` per second.

Limits the user typed (``requests_per_minute``/``tokens_per_minute``) stay ceilings: neither source
ever paces above them. ``Retry-After`` is honoured by the client as before (every request waits).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: The share of an advertised limit paced to: the window the server counts in is not ours.
SAFETY = 0.98
#: Where AIMD starts at the least (requests/min, evenly spaced); the client uses 60 x its concurrency
#: when that is more.
START_RPM = 600.0
MIN_RPM = 6.0
#: AIMD: the rate kept on a refusal, and the share of it added per second afterwards.
CUT = 0.7
GROWTH = 0.05
#: Slow start doubles the rate this often (seconds), so a concurrency-bound run is at full speed in ~1 s.
SLOW_START_WINDOW = 0.25
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str | None) -> float | None:
    """``"6m0s"`` -> 360.0, ``"20ms"`` -> 0.02, ``"1.5"`` -> 1.5 (seconds); None when unreadable."""
    if not text:
        return None
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        value = float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


@dataclass(frozen=True)
class AdvertisedLimits:
    """What one reply's ``x-ratelimit-*`` headers say (per-minute limits, what remains, seconds to reset)."""

    requests: float | None
    tokens: float | None
    remaining_requests: float | None
    remaining_tokens: float | None
    reset_requests: float | None
    reset_tokens: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | None) -> AdvertisedLimits | None:
        if not headers:
            return None
        lowered = {str(key).lower(): value for key, value in headers.items()}
        prefix = "x-ratelimit-"
        limits = cls(
            _number(lowered, prefix + "limit-requests"),
            _number(lowered, prefix + "limit-tokens"),
            _number(lowered, prefix + "remaining-requests"),
            _number(lowered, prefix + "remaining-tokens"),
            parse_duration(lowered.get(prefix + "reset-requests")),
            parse_duration(lowered.get(prefix + "reset-tokens")),
        )
        return limits if limits.requests or limits.tokens else None

    def wait(self) -> float:
        """Seconds to wait before the next request: until a reset when nothing remains, else 0."""
        waits = [
            reset or 0.0
            for remaining, reset in (
                (self.remaining_requests, self.reset_requests),
                (self.remaining_tokens, self.reset_tokens),
            )
            if remaining is not None and remaining < 1
        ]
        return max(waits, default=0.0)


class Pacer:
    """The rates to pace to now; ``version`` changes whenever they do (the client rebuilds its limiters)."""

    def __init__(
        self,
        rpm_ceiling: float | None = None,
        tpm_ceiling: float | None = None,
        *,
        start_rpm: float = START_RPM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``start_rpm``: where AIMD starts without a typed limit (the client: ``max(START_RPM, 60 x
        its concurrency)``)."""
        self.rpm_ceiling, self.tpm_ceiling, self._clock = rpm_ceiling, tpm_ceiling, clock
        #: requests / tokens per minute paced to (None: not paced on that axis)
        self.rpm: float | None = rpm_ceiling
        self.tpm: float | None = tpm_ceiling
        #: where the rates come from: "limits" (the user's), "headers", or "aimd" (learned from 429s)
        self.source = "limits" if rpm_ceiling else "aimd"
        self.version = 0
        self.refusals = 0
        self._headers_seen = False
        self._slow_start = rpm_ceiling is None  # a typed limit is trusted until the server refuses
        now = clock()
        self._last_cut, self._window_start, self._sent_in_window = -math.inf, now, 0
        if rpm_ceiling is None:  # nothing known yet: start low and ramp
            self.rpm = start_rpm

    @property
    def learning(self) -> bool:
        """AIMD is in charge: no header has advertised a limit."""
        return not self._headers_seen

    def _set(self, rpm: float | None, tpm: float | None) -> None:
        rpm = min(rpm, self.rpm_ceiling) if rpm is not None and self.rpm_ceiling else rpm or self.rpm_ceiling
        tpm = min(tpm, self.tpm_ceiling) if tpm is not None and self.tpm_ceiling else tpm or self.tpm_ceiling
        if (rpm, tpm) != (self.rpm, self.tpm):
            self.rpm, self.tpm, self.version = rpm, tpm, self.version + 1

    def on_send(self) -> None:
        """A request is about to go out (the ramp never grows past twice what was sent)."""
        self._sent_in_window += 1

    def on_reply(self, limits: AdvertisedLimits | None) -> None:
        """A reply came back (any status but 429): follow its headers, or grow the learned rate."""
        now = self._clock()
        if limits is not None:
            self._follow(limits)
            return
        window = SLOW_START_WINDOW if self._slow_start else 1.0
        if not self.learning or self.rpm is None or now - self._window_start < window:
            return
        sent_rpm = 60 * self._sent_in_window / (now - self._window_start)
        self._window_start, self._sent_in_window = now, 0
        # slow start doubles, never past twice what was sent; then additive growth
        grown = min(self.rpm * 2, max(2 * sent_rpm, MIN_RPM)) if self._slow_start else self.rpm * (1 + GROWTH)
        if grown > self.rpm:
            self._set(grown, self.tpm)

    def on_refusal(self, limits: AdvertisedLimits | None) -> None:
        """A 429: follow the headers it carries, else cut the learned rate (once per burst)."""
        self.refusals += 1
        now = self._clock()
        if limits is not None:
            self._follow(limits)
            return
        if not self.learning or now - self._last_cut < 1.0:
            return
        # cut from what was actually sent, when less than the rate (a ramp that overshot the limit)
        elapsed = now - self._window_start
        sent = 60 * self._sent_in_window / elapsed if elapsed >= SLOW_START_WINDOW else math.inf
        self.source, self._slow_start, self._last_cut = "aimd", False, now
        self._window_start, self._sent_in_window = now, 0
        self._set(max(MIN_RPM, min(self.rpm or math.inf, sent) * CUT), self.tpm)

    def _follow(self, limits: AdvertisedLimits) -> None:
        self._headers_seen, self.source = True, "headers"
        # an axis the server does not advertise is not paced (beyond a typed ceiling): the start
        # rate of the ramp must not become a permanent cap
        rpm = limits.requests * SAFETY if limits.requests else None
        tpm = limits.tokens * SAFETY if limits.tokens else None
        self._set(rpm, tpm)

    def snapshot(self) -> dict[str, Any]:
        """The current estimate, for run.json and the progress bar."""
        return {
            "source": self.source,
            "requests_per_minute": round(self.rpm, 1) if self.rpm else None,
            "tokens_per_minute": round(self.tpm) if self.tpm else None,
            "refusals": self.refusals,
        }

    def describe(self) -> str:
        """``"600 req/min (headers)"`` for the progress bar."""
        return f"{self.rpm:.0f} req/min ({self.source})" if self.rpm else f"unpaced ({self.source})"


__all__ = ["AdvertisedLimits", "Pacer", "parse_duration"]
