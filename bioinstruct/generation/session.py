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

from bioinstruct.generation.decontamination import BenchmarkOverlap, run_report
from bioinstruct.generation.filters import CopiedSeedOutput, first_rejection, reply_rules
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    JOURNAL,
    RUN_JSON,
    AppendLog,
    Journal,
    RunState,
    apply_event,
    merge_teacher_stats,
    settle_previous_teacher,
    write_json_atomic,
)
from bioinstruct.generation.parsing import looks_like_json, parse_reply
from bioinstruct.generation.progress import SessionProgress, cost_text
from bioinstruct.generation.session_labels import LabelSteps
from bioinstruct.generation.similarity import SimilarityIndex
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


class GenerationSession(LabelSteps):
    """Requests, replies, decisions and labels for one call of ``build()``."""

    def __init__(
        self, builder: BioInstructBuilder, state: RunState, target: int, previous_teacher: dict[str, Any]
    ) -> None:
        self.builder = builder
        self._state, self._target, self._kept = state, target, {}
        self._labelling = 0
        self._teacher = TeacherClient(
            self.builder.teacher_model,
            base_url=self.builder.base_url,
            api_key=self.builder._api_key,
            max_concurrency=self.builder.max_concurrency,
            requests_per_minute=self.builder.requests_per_minute,
            tokens_per_minute=self.builder.tokens_per_minute,
            max_cost_usd=self.builder.max_cost_usd,
            spent_usd=state.cost_usd + float(previous_teacher.get("unconfirmed_cost_usd") or 0.0),
            timeout=self.builder.timeout,
            max_retries=self.builder.max_retries,
            prices=self.builder.prices,
        )
        builder._teacher_url = self._teacher.base_url
        self._previous_teacher = settle_previous_teacher(previous_teacher) if previous_teacher else {}
        self._index = SimilarityIndex(tokenizer=self.builder.similarity_tokenizer)
        contamination = builder._contamination  # test items loaded by build(), when decontaminating
        self._overlap = BenchmarkOverlap(contamination) if contamination is not None else None
        self._seed_copy = CopiedSeedOutput(self.builder.seed_tasks)
        for task in self.builder.seed_tasks:
            self._index.add(task["instruction"], id=task["id"])
        for item in [*state.rows, *state.pending]:
            self._index.add(item["instruction"], id=item["id"])
        self._journal = Journal(self.builder.output_dir / JOURNAL)
        self._rows_log = AppendLog(self.builder.output_dir / INSTRUCTIONS)
        self._started, self._session_requests = time.monotonic(), 0
        self._session_replies = self._session_kept = 0
        #: set when JSON mode met a server that ignores response_format: ask for the numbered list
        self._json_ignored = False
        self._terminated = False
        self._progress_bar = SessionProgress(
            len(state.rows),
            target,
            self._status,
            enabled=self.builder.progress,
            interval=getattr(self.builder, "progress_interval", 30.0),
        )

    async def run(self) -> None:
        """Generate until the target is met, the budget stops it, or an error ends it."""
        state, target = self._state, self._target
        status = "failed"
        self.builder.stop_reason = None
        self.builder.stop_message = None
        self._write_run_json("running")
        self._progress_bar.start_clock()
        remove_sigterm = self._handle_sigterm()
        try:
            if self.builder.batch_api:
                from bioinstruct.generation.batch_flow import run_batches

                await run_batches(self)
            if len(state.rows) < target and self.builder.stop_reason is None:
                await self.loop()
            if len(state.rows) >= target:
                self.builder.stop_reason = "complete"
            status = self.builder.stop_reason or "stopped"
            if status == "zero_yield":
                logger.warning("%s", self.builder.stop_message)
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
            await self._teacher.aclose()

    def _handle_sigterm(self) -> Callable[[], None]:
        """SIGTERM (Slurm, systemd, ``docker stop``) stops the run like Ctrl-C: status ``interrupted``,
        everything journaled, resumable. Returns the function that removes the handler."""
        loop, main = asyncio.get_running_loop(), asyncio.current_task()

        def on_sigterm() -> None:
            self._terminated = True
            if main is not None:
                main.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or Windows
            return lambda: None
        return lambda: loop.remove_signal_handler(signal.SIGTERM)

    @property
    def terminated(self) -> bool:
        """Whether SIGTERM ended the session (the builder then raises KeyboardInterrupt)."""
        return self._terminated

    def _covered(self) -> int:
        return len(self._state.rows) + len(self._state.pending) + self._labelling

    async def loop(self, generate: bool = True) -> None:
        """Run requests until the target is met; ``generate=False`` only labels what is pending
        (the Batch API flow generates through batches)."""
        state, target = self._state, self._target
        tasks: dict[asyncio.Task, str] = {}
        generating, labelling_allowed, failures = generate, True, 0
        yield_prior = max(1.0, (self.builder.tasks_per_prompt - self.builder.num_prompt_seeds) / 2)
        try:
            while len(state.rows) < target:
                in_flight = sum(kind == "generate" for kind in tasks.values())
                need = target - len(state.rows)
                while (
                    labelling_allowed
                    and state.pending
                    and self._labelling < need
                    and (
                        len(state.pending) >= self.builder.label_batch_size or not in_flight or not generating
                    )
                ):
                    take = min(self.builder.label_batch_size, len(state.pending), need - self._labelling)
                    batch, state.pending[:take] = state.pending[:take], []
                    self._labelling += take
                    tasks[asyncio.create_task(self._label(batch))] = "label"
                expected = state.expected_yield(yield_prior)
                while (
                    generating
                    and in_flight < self.builder.max_concurrency
                    and (self._covered() + in_flight * max(expected, 0.5) < target)
                ):
                    tasks[self._launch_generation()] = "generate"
                    in_flight += 1
                if not tasks:
                    if generate:
                        self.builder.stop_reason = self.builder.stop_reason or "stalled"
                    return
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    kind = tasks.pop(task)
                    try:
                        result = task.result()
                    except BudgetExceededError:
                        generating = False
                        labelling_allowed = labelling_allowed and kind == "generate"
                        self.builder.stop_reason = "budget"
                        continue
                    except TeacherAuthError:
                        raise
                    except TeacherError as err:
                        failures += 1
                        if not self._teacher.stats.succeeded:  # nothing ever got through: a wrong
                            # base_url or a dead endpoint; do not spend minutes retrying request after request
                            raise TeacherError(
                                f"no teacher request has succeeded yet; check the endpoint and key. Last error: {err}. "
                                "Rerun to resume."
                            ) from None
                        if failures >= max(3, self.builder.max_concurrency + 2):
                            raise TeacherError(
                                f"{failures} teacher requests failed in a row; last: {err}. Rerun to resume."
                            ) from None
                        continue
                    failures = 0
                    if kind == "generate":
                        self._ingest(*result)
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
        limit = getattr(self.builder, "zero_yield_replies", 8)
        if not limit or self._session_kept or self._session_replies < limit:
            return False
        counters = self._state.counters()
        problems = ", ".join(f"{k} {v}" for k, v in counters["reply_problems"].items()) or "none"
        rejected = ", ".join(f"{k} {v}" for k, v in counters["rejected_by_filter"].items()) or "none"
        self.builder.stop_reason = "zero_yield"
        self.builder.stop_message = (
            f"stopped: {self._session_replies} teacher replies gave 0 usable tasks (reply problems: {problems}; "
            f"rejected by filter: {rejected}); read their text in journal.jsonl, then try fewer "
            "--tasks-per-prompt, more --max-tokens or a stronger teacher"
        )
        return True

    def _launch_generation(self) -> asyncio.Task:
        """Journal the request synchronously (so its number is taken) and start it."""
        sequence = self._state.generation_requests + 1
        request_id = f"gen-{sequence:06d}"
        seeds = self.builder.sample_seeds(sequence)
        messages = self.builder.generation_messages(seeds, json_mode=self._json_mode)
        seed_ids = [seed["id"] for seed in seeds]
        self._record(
            "request",
            kind="generate",
            request_id=request_id,
            seed_ids=seed_ids,
            prompt=messages[-1]["content"],
        )
        return asyncio.create_task(self._generate(request_id, seed_ids, messages))

    async def _call(self, request_id: str, kind: str, messages: list[dict], **options: Any) -> Completion:
        """One teacher call with its reply or error journaled."""
        self._session_requests += 1
        try:
            seed = self.builder.request_seed(request_id)
            completion = await self._teacher.complete(messages, request_id=request_id, seed=seed, **options)
        except BudgetExceededError as err:
            self._record("budget_stop", kind=kind, request_id=request_id, message=str(err))
            raise
        except TeacherError as err:
            self._record(
                "error", kind=kind, request_id=request_id, error=type(err).__name__, message=str(err)
            )
            raise
        self._record_reply(kind, request_id, completion)
        return completion

    def _record_reply(self, kind: str, request_id: str, completion: Completion) -> None:
        self._record(
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
            "max_tokens": self.builder.max_tokens,
            "temperature": self.builder.temperature,
            "top_p": self.builder.top_p,
            "frequency_penalty": self.builder.frequency_penalty,
        }
        if self._json_mode:
            options["response_format"] = {"type": "json_object"}
        completion = await self._call(request_id, "generate", messages, **options)
        return request_id, seed_ids, completion

    def _ingest(
        self, request_id: str, seed_ids: list[str], completion: Completion, journal_reply: bool = False
    ) -> None:
        """Parse one generation reply and decide every candidate (synchronously: no await in here)."""
        if journal_reply:  # Batch API results arrive without a live call
            self._record_reply("generate", request_id, completion)
        self._session_replies += 1
        mode = "json" if self.builder.json_mode else "numbered"
        result = parse_reply(
            completion.text,
            completion.finish_reason,
            mode=mode,
            first_index=self.builder.num_prompt_seeds + 1,
        )
        if mode == "json" and not result.candidates and not looks_like_json(completion.text):
            mode, result = self._json_not_honoured(request_id, completion)
        problem = result.problem
        if problem in ("unparseable", "empty") and completion.refusal:  # structured refusal: content is null
            problem = "refusal"
        self._record(
            "parse",
            request_id=request_id,
            mode=mode,
            candidates=len(result.candidates),
            truncated=result.truncated,
            problem=problem,
        )
        rules, similarity = reply_rules(
            self._index,
            self.builder.similarity_threshold,
            self.builder._blacklist,
            extra=[self._seed_copy, *([self._overlap] if self._overlap else [])],
        )
        for position, candidate in enumerate(result.candidates, start=1):
            fields = {
                "id": f"{request_id}-{position:02d}",
                "request_id": request_id,
                "seed_ids": seed_ids,
                **candidate.to_dict(),
            }
            similarity.last = (0.0, None)
            rejection = first_rejection(candidate, rules)
            score, match_id = similarity.last
            most_similar = {"id": match_id, "score": round(score, 4)}
            if rejection is not None:
                details = {"most_similar": most_similar} if rejection.filter == "similarity" else {}
                if self._overlap and rejection.filter == BenchmarkOverlap.name:
                    details = {"overlap": [overlap.to_dict() for overlap in self._overlap.last]}
                self._record(
                    "candidate",
                    decision="rejected",
                    filter=rejection.filter,
                    reason=rejection.reason,
                    **fields,
                    **details,
                )
            elif self._covered() >= self._target:
                self._record("candidate", decision="surplus", most_similar=most_similar, **fields)
            else:
                self._index.add(candidate.instruction, id=fields["id"])
                self._session_kept += 1
                self._state.pending.append(
                    self._record("candidate", decision="kept", most_similar=most_similar, **fields)
                )

    @property
    def _json_mode(self) -> bool:
        return self.builder.json_mode and not self._json_ignored

    def _json_not_honoured(self, request_id: str, completion: Completion) -> tuple[str, Any]:
        """A JSON-mode reply that is not JSON: the server ignores ``response_format`` (``transformers
        serve`` does). Say so once, read this reply as a numbered list, and ask for that from now on."""
        if not self._json_ignored:
            self._json_ignored = True
            logger.warning(
                "--json-mode: reply %s is not JSON (the server ignores response_format); "
                "reading replies as numbered lists and asking for that format from now on",
                request_id,
            )
        result = parse_reply(
            completion.text,
            completion.finish_reason,
            mode="numbered",
            first_index=self.builder.num_prompt_seeds + 1,
        )
        return "numbered", result

    # -- progress and run.json -----------------------------------------------------------------

    def _status(self) -> dict[str, str]:
        """The progress fields: requests (in flight), candidates and kept tasks, rate and cost."""
        stats = self._teacher.stats
        in_flight = stats.requests - stats.succeeded - stats.failed - stats.cancelled
        minutes = max((time.monotonic() - self._started) / 60, 1e-6)
        return {
            "requests": f"{self._session_requests} ({in_flight} in flight)",
            "candidates": f"{self._state.candidates} ({self._state.passed_filters} passed filters)",
            "req/min": f"{self._session_requests / minutes:.1f}",
            "cost": cost_text(self._teacher.total_cost_usd, self._teacher.price is not None),
        }

    def _tick(self) -> None:
        self._progress_bar.refresh()
        self._write_run_json("running")

    def _write_run_json(self, status: str) -> None:
        counters = self._state.counters()
        counters["pending_label"] += self._labelling
        write_json_atomic(
            self.builder.output_dir / RUN_JSON,
            {
                "status": status,
                "stop_reason": self.builder.stop_reason,
                "target": self._target,
                "config": self.builder.config(),
                "counters": counters,
                "teacher": self._teacher_counters(),
                "decontamination": run_report(self._overlap.index, self._state) if self._overlap else None,
                "files": {"instructions": INSTRUCTIONS, "journal": JOURNAL},
            },
        )

    def _teacher_counters(self) -> dict[str, Any]:
        stats = self._teacher.stats
        current = {
            **stats.to_dict(),
            "in_flight": stats.requests - stats.succeeded - stats.failed - stats.cancelled,
        }
        merged = merge_teacher_stats(self._previous_teacher, current)
        merged["price_known"] = self._teacher.price is not None
        merged["json_mode_ignored"] = self._json_ignored
        return merged

    def _record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Journal an event and fold it into the live counters, exactly as recovery would."""
        record = self._journal.write(event, **fields)
        apply_event(self._state, record, self._kept)
        return record
