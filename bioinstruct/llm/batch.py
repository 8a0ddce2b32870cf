"""OpenAI Batch API mode: the same chat requests at half price, answered within 24 hours.

Why a separate runner: a batch is a *file* of requests that lives on the server for a day. The
builder writes the file, submits it, stores the returned batch id in its journal, and may be
restarted many times before the batch finishes; so every step here is a separate call that needs
nothing but the batch id (``poll`` and ``results`` work from a fresh process). Results come back
as :class:`~bioinstruct.llm.client.Completion` objects (or a ``TeacherError`` per failed
line), so they go through the same parser and filters as synchronous replies. The budget cap
applies too: the batch's worst-case cost (at the batch discount) is reserved before upload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import openai
from openai.types.chat import ChatCompletion

from bioinstruct.errors import ConfigError, DataError
from bioinstruct.llm.client import (
    Completion,
    TeacherAuthError,
    TeacherClient,
    TeacherError,
    TeacherRequestError,
    TeacherUnavailableError,
    backoff_delay,
    load_price_table,
)

logger = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS = 50_000  # OpenAI's per-batch limits
MAX_FILE_BYTES = 200 * 1024 * 1024
PENDING = ("validating", "in_progress", "finalizing", "cancelling")
T = TypeVar("T")


class BatchRunner:
    """Write, submit, poll and ingest one or more Batch API jobs for a teacher model.

    ``teacher`` is a :class:`TeacherClient` (its endpoint, key, prices, budget and stats are
    shared) or a model name, in which case ``teacher_kwargs`` build one.
    """

    def __init__(self, teacher: TeacherClient | str, *, discount: float | None = None, **teacher_kwargs: Any):
        self.teacher = (
            teacher if isinstance(teacher, TeacherClient) else TeacherClient(teacher, **teacher_kwargs)
        )
        self.discount = load_price_table()["batch_discount"] if discount is None else discount
        # Azure OpenAI names the batch endpoint without the /v1 prefix.
        self.endpoint = "/chat/completions" if self.teacher.azure_api_version else ENDPOINT
        self._reserved: dict[str, float] = {}
        self._ingested: dict[str, list[tuple[str, Completion | TeacherError]]] = {}

    def _worst_case(self, custom_id: str, body: dict[str, Any]) -> float:
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if limit is None:
            if self.teacher.max_cost_usd is not None:
                raise ConfigError(f"batch request {custom_id!r} has no max_tokens, so its cost has no bound")
            limit = 0
        return self.teacher.estimate_cost(body.get("messages") or [], int(limit), self.discount)

    def write_requests(self, path: str | Path, requests: list[tuple[str, dict[str, Any]]]) -> float:
        """Write the batch input JSONL; return its worst-case cost in USD (at the batch discount).

        Each body is a chat-completions request (``messages``, ``max_tokens``, ...); ``model``
        defaults to the teacher's.
        """
        if not requests:
            raise DataError("batch: no requests to write")
        if len(requests) > MAX_REQUESTS:
            raise DataError(f"batch: {len(requests)} requests; the Batch API takes at most {MAX_REQUESTS}")
        seen: set[str] = set()
        lines, worst = [], 0.0
        for custom_id, body in requests:
            if not isinstance(custom_id, str) or not custom_id or custom_id in seen:
                raise DataError(f"batch: custom_id {custom_id!r} is empty or not unique")
            if not isinstance(body, dict) or not body.get("messages"):
                raise DataError(f"batch: request {custom_id!r} needs a body with 'messages'")
            seen.add(custom_id)
            body = {"model": self.teacher.model, **body}
            worst += self._worst_case(custom_id, body)
            line = {"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body}
            lines.append(json.dumps(line, ensure_ascii=False))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise DataError(f"batch: {path} would be {len(data)} bytes; the Batch API takes at most 200 MB")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        return worst

    async def _call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """Run one management call, retrying transient failures like the synchronous client."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await make()
            except openai.OpenAIError as exc:
                cause, retry_after = self.teacher.classify_error(exc)
                if attempt > self.teacher.max_retries:
                    raise TeacherUnavailableError(f"batch: {what} failed {attempt} times ({cause})") from None
                self.teacher.stats.retries[cause] += 1
                delay = retry_after
                if delay is None:
                    delay = backoff_delay(attempt, self.teacher.backoff_base, self.teacher.backoff_max)
                await asyncio.sleep(min(delay, self.teacher.max_retry_wait))

    async def submit(self, path: str | Path, *, metadata: dict[str, str] | None = None) -> str:
        """Upload ``path`` (purpose "batch") and create the batch; return its id for the journal."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"batch: input file {path} not found")
        data = path.read_bytes()
        try:
            rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
            worst = sum(self._worst_case(row["custom_id"], row["body"]) for row in rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"batch: {path} is not a batch input file (custom_id/body per line): {exc}"
            ) from None
        self.teacher.reserve_now(worst)  # BudgetExceededError before anything is uploaded
        sdk = self.teacher.sdk()
        try:
            uploaded = await self._call(
                "upload", lambda: sdk.files.create(file=(path.name, data), purpose="batch")
            )
            batch = await self._call(
                "create",
                lambda: sdk.batches.create(
                    input_file_id=uploaded.id,
                    endpoint=self.endpoint,
                    completion_window="24h",
                    metadata=metadata or {"source": "bioinstruct", "file": path.name[:64]},
                ),
            )
        except BaseException:
            self.teacher.settle(worst, 0.0)
            raise
        self._reserved[batch.id] = worst
        logger.info("batch: submitted %s (%d requests, worst case $%.4f)", batch.id, len(rows), worst)
        return batch.id

    async def poll(self, batch_id: str) -> str:
        """Current status: validating, in_progress, finalizing, completed, failed, expired, cancel*."""
        batch = await self._call("poll", lambda: self.teacher.sdk().batches.retrieve(batch_id))
        return batch.status

    async def wait(self, batch_id: str, *, interval: float = 60.0, timeout: float | None = None) -> str:
        """Poll every ``interval`` seconds until the batch leaves the pending states."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (status := await self.poll(batch_id)) in PENDING:
            if deadline is not None and time.monotonic() + interval > deadline:
                return status
            await asyncio.sleep(interval)
        return status

    async def cancel(self, batch_id: str) -> str:
        batch = await self._call("cancel", lambda: self.teacher.sdk().batches.cancel(batch_id))
        return batch.status

    async def _file_lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        content = await self._call("download", lambda: self.teacher.sdk().files.content(file_id))
        return [json.loads(line) for line in content.text.splitlines() if line.strip()]

    def _parse_line(self, row: dict[str, Any]) -> Completion | TeacherError:
        custom_id = row.get("custom_id", "")
        response = row.get("response") or {}
        status = response.get("status_code")
        if status == 200 and not row.get("error"):
            completion = self.teacher.to_completion(
                ChatCompletion.model_validate(response["body"]), custom_id, 1, self.discount
            )
            self.teacher.record(completion)
            return completion
        self.teacher.stats.failed += 1
        error = row.get("error") or (response.get("body") or {}).get("error") or {}
        message = (
            f"batch request {custom_id!r}: {status or error.get('code')} {error.get('message', '')}".strip()
        )
        if status in (401, 403, 404):
            return TeacherAuthError(message)
        if status is not None and 400 <= status < 500 and status != 429:
            return TeacherRequestError(message)
        return TeacherUnavailableError(message)

    async def results(
        self, batch_id: str, *, expected_ids: Iterable[str] | None = None
    ) -> list[tuple[str, Completion | TeacherError]]:
        """Ingest a finished batch: one ``(custom_id, Completion | TeacherError)`` per request.

        Works for completed, expired and cancelled batches (their unfinished lines come back as
        errors). With ``expected_ids`` the list follows that order and a request the server lost
        becomes a ``TeacherUnavailableError`` instead of silently disappearing. Stats and cost are
        counted once per batch, however often this is called.
        """
        if batch_id in self._ingested:
            return self._ingested[batch_id]
        batch = await self._call("retrieve", lambda: self.teacher.sdk().batches.retrieve(batch_id))
        if batch.status in PENDING:
            raise TeacherError(f"batch {batch_id} is still {batch.status}; poll until it has finished")
        if batch.status == "failed":
            self.teacher.settle(self._reserved.pop(batch_id, 0.0), 0.0)
            details = "; ".join(
                f"{err.code}: {err.message}" for err in ((batch.errors.data or []) if batch.errors else [])
            )
            raise TeacherRequestError(f"batch {batch_id} failed validation ({details or 'no details'})")
        rows = await self._file_lines(batch.output_file_id) + await self._file_lines(batch.error_file_id)
        by_id: dict[str, Completion | TeacherError] = {}
        for row in rows:
            by_id[row.get("custom_id", "")] = self._parse_line(row)
        order = list(expected_ids) if expected_ids is not None else list(by_id)
        for custom_id in order:
            if custom_id not in by_id:
                self.teacher.stats.failed += 1
                by_id[custom_id] = TeacherUnavailableError(f"batch {batch_id}: no result for {custom_id!r}")
        self.teacher.stats.requests += len(by_id)
        cost = sum(item.cost_usd for item in by_id.values() if isinstance(item, Completion))
        self.teacher.settle(self._reserved.pop(batch_id, 0.0), cost)
        self._ingested[batch_id] = [(custom_id, by_id[custom_id]) for custom_id in order]
        return self._ingested[batch_id]
