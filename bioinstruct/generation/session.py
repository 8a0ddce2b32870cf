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
import time
from typing import TYPE_CHECKING, Any

from bioinstruct.generation.decontamination import BenchmarkOverlap, run_report
from bioinstruct.generation.filters import first_rejection, reply_rules
from bioinstruct.generation.journal import (
    INSTRUCTIONS,
    JOURNAL,
    RUN_JSON,
    AppendLog,
    Journal,
    RunState,
    apply_event,
    write_json_atomic,
)
from bioinstruct.generation.labelling import LabelOutcome, label_instructions
from bioinstruct.generation.parsing import parse_reply
from bioinstruct.generation.similarity import SimilarityIndex
from bioinstruct.generation.teacher import (
    BudgetExceededError,
    Completion,
    TeacherAuthError,
    TeacherClient,
    TeacherError,
)

if TYPE_CHECKING:
    from bioinstruct.generation.builder import BioInstructBuilder

logger = logging.getLogger(__name__)


def _merge_stats(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Add two TeacherStats dicts (numbers and nested counters), for cumulative run.json counters."""
    merged: dict[str, Any] = dict(previous)
    for key, value in current.items():
        if isinstance(value, dict):
            merged[key] = _merge_stats(previous.get(key) or {}, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = round(previous.get(key, 0) + value, 6)
    return merged


class GenerationSession:
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
        self._previous_teacher = previous_teacher
        self._index = SimilarityIndex(tokenizer=self.builder.similarity_tokenizer)
        contamination = builder._contamination  # test items loaded by build(), when decontaminating
        self._overlap = BenchmarkOverlap(contamination) if contamination is not None else None
        for task in self.builder.seed_tasks:
            self._index.add(task["instruction"], id=task["id"])
        for item in [*state.rows, *state.pending]:
            self._index.add(item["instruction"], id=item["id"])
        self._journal = Journal(self.builder.output_dir / JOURNAL)
        self._rows_log = AppendLog(self.builder.output_dir / INSTRUCTIONS)
        self._started, self._session_requests = time.monotonic(), 0
        self._progress_bar = self._make_progress(len(state.rows), target)

    async def run(self) -> None:
        """Generate until the target is met, the budget stops it, or an error ends it."""
        state, target = self._state, self._target
        status = "failed"
        self.builder.stop_reason = None
        self._write_run_json("running")
        try:
            if self.builder.batch_api:
                from bioinstruct.generation.batch_flow import run_batches

                await run_batches(self)
            if len(state.rows) < target and self.builder.stop_reason is None:
                await self.loop()
            if len(state.rows) >= target:
                self.builder.stop_reason = "complete"
            status = self.builder.stop_reason or "stopped"
            if status != "complete":
                logger.warning(
                    "stopped with %d of %d rows (%s); rerun to resume", len(state.rows), target, status
                )
        except (asyncio.CancelledError, KeyboardInterrupt):
            status = "interrupted"
            raise
        finally:
            self._write_run_json(status)
            self._progress_bar.close()
            self._journal.close()
            self._rows_log.close()
            await self._teacher.aclose()

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
                    else:
                        self._accept(*result)
                self._tick()
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    def _launch_generation(self) -> asyncio.Task:
        """Journal the request synchronously (so its number is taken) and start it."""
        sequence = self._state.generation_requests + 1
        request_id = f"gen-{sequence:06d}"
        seeds = self.builder.sample_seeds(sequence)
        messages = self.builder.generation_messages(seeds)
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
            completion = await self._teacher.complete(messages, request_id=request_id, **options)
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
        }
        if self.builder.json_mode:
            options["response_format"] = {"type": "json_object"}
        completion = await self._call(request_id, "generate", messages, **options)
        return request_id, seed_ids, completion

    def _ingest(
        self, request_id: str, seed_ids: list[str], completion: Completion, journal_reply: bool = False
    ) -> None:
        """Parse one generation reply and decide every candidate (synchronously: no await in here)."""
        if journal_reply:  # Batch API results arrive without a live call
            self._record_reply("generate", request_id, completion)
        result = parse_reply(
            completion.text,
            completion.finish_reason,
            mode="json" if self.builder.json_mode else "numbered",
            first_index=self.builder.num_prompt_seeds + 1,
        )
        problem = result.problem
        if problem in ("unparseable", "empty") and completion.refusal:  # structured refusal: content is null
            problem = "refusal"
        self._record(
            "parse",
            request_id=request_id,
            candidates=len(result.candidates),
            truncated=result.truncated,
            problem=problem,
        )
        rules, similarity = reply_rules(
            self._index,
            self.builder.similarity_threshold,
            self.builder._blacklist,
            extra=[self._overlap] if self._overlap else [],
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
                self._state.pending.append(
                    self._record("candidate", decision="kept", most_similar=most_similar, **fields)
                )

    async def _label(self, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], LabelOutcome]:
        ids = [item["id"] for item in batch]

        async def ask(prompt: str, max_tokens: int) -> Completion:
            request_id = f"lab-{self._state.label_requests + 1:06d}"
            self._record("request", kind="label", request_id=request_id, ids=ids, prompt=prompt)
            return await self._call(
                request_id,
                "label",
                [{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.0,
            )

        try:
            outcome = await label_instructions(
                ask,
                [item["instruction"] for item in batch],
                max_attempts=self.builder.label_attempts,
                template=self.builder.label_template,
            )
        except BaseException:
            self._labelling -= len(batch)
            self._state.pending[:0] = batch  # back to the front of the queue, nothing lost
            raise
        return batch, outcome

    def _accept(self, batch: list[dict[str, Any]], outcome: LabelOutcome) -> None:
        self._labelling -= len(batch)
        for item, label in zip(batch, outcome.labels, strict=True):
            if label is None:
                self._record(
                    "unlabelled",
                    id=item["id"],
                    request_id=item["request_id"],
                    reason=f"no readable label after {outcome.attempts} attempts",
                )
                continue
            if len(self._state.rows) >= self._target:
                self._state.pending.append(item)
                continue
            row = {
                "id": item["id"],
                "instruction": item["instruction"],
                "input": item["input"],
                "output": item["output"],
                "category": label,
                "seed_ids": item["seed_ids"],
                "request_id": item["request_id"],
                "teacher_model": self.builder.teacher_model,
                "most_similar": item["most_similar"],
            }
            self._rows_log.append(row)
            self._state.rows.append(row)
            self._record("accepted", id=row["id"], category=label)
            self._progress_bar.update(1)

    # -- progress and run.json -----------------------------------------------------------------

    def _make_progress(self, initial: int, total: int) -> Any:
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            initial=initial,
            unit="row",
            desc="kept",
            disable=not self.builder.progress or None,
            dynamic_ncols=True,
        )

    def _tick(self) -> None:
        minutes = max((time.monotonic() - self._started) / 60, 1e-6)
        self._progress_bar.set_postfix(
            {
                "req/min": f"{self._session_requests / minutes:.1f}",
                "cost": f"${self._teacher.total_cost_usd:.2f}",
            },
            refresh=False,
        )
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
                "teacher": _merge_stats(self._previous_teacher, self._teacher.stats.to_dict()),
                "decontamination": run_report(self._overlap.index, self._state) if self._overlap else None,
                "files": {"instructions": INSTRUCTIONS, "journal": JOURNAL},
            },
        )

    def _record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Journal an event and fold it into the live counters, exactly as recovery would."""
        record = self._journal.write(event, **fields)
        apply_event(self._state, record, self._kept)
        return record
