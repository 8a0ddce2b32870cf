"""One generation session: the async request loop behind :meth:`BioInstructBuilder.build`.

Why a separate object: a session owns everything bound to one event loop and one process (the
teacher client, the open journal and instructions files, the similarity index, the in-flight
tasks), while the builder holds only configuration. All decisions that touch shared state
(candidate filtering and reservation, label acceptance) run synchronously between awaits, so
concurrency never needs a lock.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bioinstruct.generation.decisions import CandidateDecisions
from bioinstruct.generation.gates import identifier_screen, reviewer_client
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    JOURNAL,
    AppendLog,
    Journal,
    RunState,
    apply_event,
    settle_previous_teacher,
)
from bioinstruct.generation.parsing import ReplyReader
from bioinstruct.generation.progress import SessionProgress
from bioinstruct.generation.session_labels import LabelSteps
from bioinstruct.generation.session_report import RunReport
from bioinstruct.generation.session_review import ReviewSteps
from bioinstruct.llm.client import (
    BudgetExceededError,
    Completion,
    TeacherAuthError,
    TeacherClient,
    TeacherError,
)

if TYPE_CHECKING:
    from bioinstruct.generation.builder import BioInstructBuilder

logger = logging.getLogger(__name__)


class GenerationSession(LabelSteps, ReviewSteps, RunReport):
    """Requests, replies, decisions and labels for one call of ``build()``."""

    def __init__(
        self, builder: BioInstructBuilder, state: RunState, target: int, previous_teacher: dict[str, Any]
    ) -> None:
        self.builder, self.config = builder, builder.config
        self.state, self.target, self._kept = state, target, {}
        #: why the session stopped (complete, budget, zero_yield, stalled, ...) and, for zero_yield, one
        #: line saying why; the builder reads both after the run
        self.stop_reason, self.stop_message = None, None  # str | None each
        self._labelling = 0
        self.teacher = TeacherClient(
            self.config.teacher_model,
            base_url=self.config.base_url,
            api_key=builder.api_key,
            max_concurrency=self.config.max_concurrency,
            requests_per_minute=self.config.requests_per_minute,
            tokens_per_minute=self.config.tokens_per_minute,
            max_cost_usd=self.config.max_cost_usd,
            spent_usd=state.cost_usd + float(previous_teacher.get("unconfirmed_cost_usd") or 0.0),
            timeout=self.config.request_timeout,
            max_retries=self.config.max_retries,
            prices=builder.prices,
        )
        builder.teacher_url = self.teacher.base_url  # credentials stripped; run.json's config shows it
        self.reviewer = reviewer_client(self.config, self.teacher, builder.api_key, builder.prices)
        builder.reviewer_url = self.reviewer.base_url if self.reviewer else None
        self._previous_teacher = settle_previous_teacher(previous_teacher) if previous_teacher else {}
        self._overlap = builder.decontamination  # the benchmark-overlap rule, when decontaminating
        config, pool = self.config, [*state.rows, *state.pending]
        self._decisions = CandidateDecisions(
            config.similarity_threshold,
            config.similarity_tokenizer,
            builder.seed_tasks,
            pool,
            self._overlap,
            identifier_screen(config),
        )
        self._journal = Journal(self.builder.output_dir / JOURNAL)
        self._rows_log = AppendLog(self.builder.output_dir / INSTRUCTIONS)
        self._started, self._session_requests = time.monotonic(), 0
        self._session_replies = self._session_kept = 0
        self._reader = ReplyReader(self.config.json_mode, first_index=self.config.num_prompt_seeds + 1)
        #: whether SIGTERM ended the session (the builder then raises KeyboardInterrupt)
        self.terminated = False
        self._progress_bar = SessionProgress(
            len(state.rows),
            target,
            self._status,
            enabled=not self.config.no_progress,
            interval=self.config.progress_interval,
        )

    async def run(self) -> None:
        """Generate until the target is met, the budget stops it, or an error ends it."""
        state, target = self.state, self.target
        status = "failed"
        self._write_run_json("running")
        self._progress_bar.start_clock()
        remove_sigterm = self._handle_sigterm()
        try:
            if self.config.batch_api:
                from bioinstruct.generation.batch_flow import run_batches

                await run_batches(self)
            if len(state.rows) < target and self.stop_reason is None:
                await self.loop()
            if len(state.rows) >= target:
                self.stop_reason = "complete"
            status = self.stop_reason or "stopped"
            if status == "zero_yield":
                logger.warning("%s", self.stop_message)
            elif status != "complete":
                logger.warning(
                    "stopped with %d of %d rows (%s); rerun to resume", len(state.rows), target, status
                )
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        finally:
            remove_sigterm()
            self._write_run_json(status)
            await self._progress_bar.close()
            self._journal.close()
            self._rows_log.close()
            await self.teacher.aclose()
            if self.reviewer not in (None, self.teacher):
                await self.reviewer.aclose()

    def _handle_sigterm(self) -> Callable[[], None]:
        """SIGTERM (Slurm, systemd, ``docker stop``) stops the run like Ctrl-C: status ``interrupted``,
        everything journaled, resumable. Returns the function that removes the handler."""
        loop, main = asyncio.get_running_loop(), asyncio.current_task()

        def on_sigterm() -> None:
            self.terminated = True
            if main is not None:
                main.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or Windows
            return lambda: None
        return lambda: loop.remove_signal_handler(signal.SIGTERM)

    def covered(self) -> int:
        return len(self.state.rows) + len(self.state.pending) + self._labelling

    async def loop(self, generate: bool = True) -> None:
        """Run requests until the target is met; ``generate=False`` only labels what is pending
        (the Batch API flow generates through batches)."""
        state, target = self.state, self.target
        tasks: dict[asyncio.Task, str] = {}
        generating, labelling_allowed, failures = generate, True, 0
        yield_prior = max(1.0, (self.config.tasks_per_prompt - self.config.num_prompt_seeds) / 2)
        try:
            while len(state.rows) < target:
                in_flight = sum(kind == "generate" for kind in tasks.values())
                need = target - len(state.rows)
                while (
                    labelling_allowed
                    and state.pending
                    and self._labelling < need
                    and (
                        len(state.pending) >= self.config.label_batch_size or not in_flight or not generating
                    )
                ):
                    take = min(self.config.label_batch_size, len(state.pending), need - self._labelling)
                    batch, state.pending[:take] = state.pending[:take], []
                    self._labelling += take
                    tasks[asyncio.create_task(self._label(batch))] = "label"
                expected = state.expected_yield(yield_prior)
                while (
                    generating
                    and in_flight < self.config.max_concurrency
                    and (self.covered() + in_flight * max(expected, 0.5) < target)
                ):
                    tasks[self._launch_generation()] = "generate"
                    in_flight += 1
                if not tasks:
                    if generate:
                        self.stop_reason = self.stop_reason or "stalled"
                    return
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    kind = tasks.pop(task)
                    try:
                        result = task.result()
                    except BudgetExceededError:
                        generating = False
                        labelling_allowed = labelling_allowed and kind == "generate"
                        self.stop_reason = "budget"
                        continue
                    except TeacherAuthError:
                        raise
                    except TeacherError as err:
                        failures += 1
                        if not self.teacher.stats.succeeded:  # nothing ever got through: a wrong
                            # base_url or a dead endpoint; do not spend minutes retrying request after request
                            raise TeacherError(
                                f"no teacher request has succeeded yet; check the endpoint and key. Last error: {err}. "
                                "Rerun to resume."
                            ) from None
                        if failures >= max(3, self.config.max_concurrency + 2):
                            raise TeacherError(
                                f"{failures} teacher requests failed in a row; last: {err}. Rerun to resume."
                            ) from None
                        continue
                    failures = 0
                    if kind == "generate":
                        self.ingest(*result)
                        if generating and self._zero_yield():
                            generating = False  # in-flight replies and labels still finish
                    else:
                        self._accept(*result)
                self._tick()
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def _zero_yield(self) -> bool:
        """After ``zero_yield_replies`` replies of this session with no kept task, stop with one line:
        more requests would only spend time and money on the same failure."""
        limit = self.config.zero_yield_replies
        if not limit or self._session_kept or self._session_replies < limit:
            return False
        counters = self.state.counters()
        problems = ", ".join(f"{k} {v}" for k, v in counters["reply_problems"].items()) or "none"
        rejected = ", ".join(f"{k} {v}" for k, v in counters["rejected_by_filter"].items()) or "none"
        self.stop_reason = "zero_yield"
        self.stop_message = (
            f"stopped: {self._session_replies} teacher replies gave 0 usable tasks (reply problems: {problems}; "
            f"rejected by filter: {rejected}); read their text in journal.jsonl, then try fewer "
            "--tasks-per-prompt, more --max-tokens or a stronger teacher"
        )
        return True

    def _launch_generation(self) -> asyncio.Task:
        """Journal the request synchronously (so its number is taken) and start it."""
        sequence = self.state.generation_requests + 1
        request_id = f"gen-{sequence:06d}"
        seeds = self.builder.sample_seeds(sequence)
        messages = self.builder.generation_messages(seeds, json_mode=self._reader.asks_json)
        seed_ids = [seed["id"] for seed in seeds]
        self.record(
            "request",
            kind="generate",
            request_id=request_id,
            seed_ids=seed_ids,
            prompt=messages[-1]["content"],
        )
        return asyncio.create_task(self._generate(request_id, seed_ids, messages))

    async def _call(
        self, request_id: str, kind: str, messages: list[dict], client: Any = None, **options: Any
    ) -> Completion:
        """One teacher (or reviewer) call with its reply or error journaled."""
        self._session_requests += 1
        try:
            seed = self.builder.request_seed(request_id)
            client = client or self.teacher
            completion = await client.complete(messages, request_id=request_id, seed=seed, **options)
        except BudgetExceededError as err:
            self.record("budget_stop", kind=kind, request_id=request_id, message=str(err))
            raise
        except TeacherError as err:
            self.record("error", kind=kind, request_id=request_id, error=type(err).__name__, message=str(err))
            raise
        self._record_reply(kind, request_id, completion)
        return completion

    def _record_reply(self, kind: str, request_id: str, completion: Completion) -> None:
        self.record(
            "reply",
            kind=kind,
            request_id=request_id,
            finish_reason=completion.finish_reason,
            text=completion.text,
            refusal=completion.refusal,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=completion.cost_usd,
            attempts=completion.attempts,
            response_id=completion.response_id,
            model=completion.model,
        )

    async def _generate(self, request_id: str, seed_ids: list[str], messages: list[dict]) -> tuple:
        options: dict[str, Any] = {
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
            "top_p": self.config.top_p,
            "frequency_penalty": self.config.frequency_penalty,
        }
        if self._reader.asks_json:
            options["response_format"] = {"type": "json_object"}
        completion = await self._call(request_id, "generate", messages, **options)
        return request_id, seed_ids, completion

    def ingest(
        self, request_id: str, seed_ids: list[str], completion: Completion, journal_reply: bool = False
    ) -> None:
        """Parse one generation reply and decide every candidate (synchronously: no await in here)."""
        if journal_reply:  # Batch API results arrive without a live call
            self._record_reply("generate", request_id, completion)
        self._session_replies += 1
        mode, result = self._reader.read(completion.text, completion.finish_reason, request_id)
        problem = result.problem
        if problem in ("unparseable", "empty") and completion.refusal:  # structured refusal: content is null
            problem = "refusal"
        self.record(
            "parse",
            request_id=request_id,
            mode=mode,
            candidates=len(result.candidates),
            truncated=result.truncated,
            problem=problem,
        )
        decisions = self._decisions.for_reply()
        for position, candidate in enumerate(result.candidates, start=1):
            decision = decisions.decide(candidate)
            fields = {
                "id": f"{request_id}-{position:02d}",
                "request_id": request_id,
                "seed_ids": seed_ids,
                **(decision.candidate or candidate).to_dict(),
            }
            if decision.rejected is not None:
                self.record(
                    "candidate",
                    decision="rejected",
                    filter=decision.rejected,
                    reason=decision.reason,
                    **fields,
                    **decision.details,
                )
            elif self.covered() >= self.target:
                self.record("candidate", decision="surplus", **decision.details, **fields)
            else:
                self._decisions.reserve(fields["instruction"], fields["id"])
                self._session_kept += 1
                self.state.pending.append(
                    self.record("candidate", decision="kept", **decision.details, **fields)
                )

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Journal an event and fold it into the live counters, exactly as recovery would."""
        record = self._journal.write(event, **fields)
        apply_event(self.state, record, self._kept)
        return record
