"""Run the async client from blocking code, including code that already runs an event loop.

Why: the evaluator and the judge are blocking APIs over the async client, and a Jupyter user
calls them from inside a running loop, where ``asyncio.run`` refuses; then the coroutine runs on
a fresh loop in one worker thread, and its result or exception comes back to the caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result (its exception is raised here)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bioinstruct") as pool:
        return pool.submit(asyncio.run, coroutine).result()
