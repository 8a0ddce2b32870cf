"""What a generation session shows while it runs: a tqdm bar, or one line at a time in a log.

Why more than a bar over rows: against a slow teacher the first row can take many minutes (a
real 135M model behind ``transformers serve`` writes 5-6 tokens/s), and a bar frozen at ``0/30``
with its clock stopped looks like a hang. The bar therefore also shows requests and candidates,
and a clock task refreshes it every second. When stderr is not a terminal (Slurm, nohup, CI)
tqdm stays silent, so a one-line summary is printed every ``interval`` seconds instead.
The cost reads ``unpriced`` for a model without a price: ``$0.00`` would claim it was free.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TextIO


def cost_text(cost_usd: float, priced: bool) -> str:
    """``$1.23``, or ``unpriced`` when the model has no known price (its cost is unknown, not zero)."""
    return f"${cost_usd:.2f}" if priced else "unpriced"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class SessionProgress:
    """The rows bar plus a status line (requests, candidates, cost) that keeps moving.

    ``status`` returns the fields to show, e.g. ``{"requests": "3 (1 in flight)", ...}``.
    ``enabled=False`` shows nothing; ``None`` (default) lets tqdm decide for a terminal, and
    prints a line every ``interval`` seconds to ``stream`` when it is not one.
    """

    def __init__(
        self,
        initial: int,
        total: int,
        status: Callable[[], dict[str, str]],
        *,
        enabled: bool = True,
        interval: float = 30.0,
        stream: TextIO | None = None,
    ) -> None:
        from tqdm.auto import tqdm

        self.status, self.total, self.interval = status, total, interval
        self.stream = stream or sys.stderr
        self.rows = initial
        self._started = time.monotonic()
        self._last_line = self._started
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lines = enabled and not tty  # one line at a time instead of a bar
        self._bar = tqdm(
            total=total,
            initial=initial,
            unit="row",
            desc="kept",
            disable=not (enabled and tty),
            dynamic_ncols=True,
            file=self.stream,
        )
        self._clock_task: asyncio.Task | None = None

    def update(self, rows: int = 1) -> None:
        self.rows += rows
        self._bar.update(rows)

    def refresh(self) -> None:
        """Show the current status now (and, without a terminal, a line once ``interval`` has passed)."""
        fields = self.status()
        if not self._bar.disable:
            self._bar.set_postfix(fields, refresh=False)
            self._bar.refresh()
        if self.lines and time.monotonic() - self._last_line >= self.interval:
            self.print_line(fields)

    def print_line(self, fields: dict[str, str] | None = None) -> None:
        fields = fields if fields is not None else self.status()
        self._last_line = time.monotonic()
        detail = ", ".join(f"{key} {value}" for key, value in fields.items())
        elapsed = _clock(self._last_line - self._started)
        print(
            f"generate: {self.rows}/{self.total} rows, {detail}, elapsed {elapsed}",
            file=self.stream,
            flush=True,
        )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.refresh()

    def start_clock(self) -> None:
        """Refresh every second from the running event loop, so the clock runs before the first row."""
        if self._clock_task is None and (self.lines or not self._bar.disable):
            self._clock_task = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
            await asyncio.gather(self._clock_task, return_exceptions=True)
            self._clock_task = None
        if self.lines:
            self.print_line()
        self._bar.close()
