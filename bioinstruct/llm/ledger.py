"""The dollar ledger of :class:`~bioinstruct.llm.client.TeacherClient`: never spend more than ``max_cost_usd``.

Why apart from the client: the cap is the one promise of the client that is about money, not HTTP.
The worst-case cost of every request (its prompt-token upper bound plus all of ``max_tokens``) is
reserved before it is sent and settled from the reported usage on reply, so requests in flight can
never add up past the cap; a request that does not fit waits for in-flight ones to settle below
their reservation, or fails at once with :class:`BudgetExceededError` when it could never fit. The
Batch API runner reserves a whole batch with :meth:`CostLedger.reserve_now` and settles it the same
way. This is a mixin: the client holds the state (below) and calls these methods; it also turns a reply
into a priced :class:`Completion` and counts its usage.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bioinstruct.llm.outcomes import BudgetExceededError, Completion, TeacherStats
from bioinstruct.llm.pricing import prompt_token_bound

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

    from bioinstruct.llm.client import _LoopState

logger = logging.getLogger("bioinstruct.llm.client")  # the client's own log: the ledger is part of it


class CostLedger:
    """Reserve, settle and price requests against ``max_cost_usd`` (a mixin of ``TeacherClient``)."""

    #: USD per 1M input/output tokens, or None when the model has no known price
    price: dict[str, float] | None
    max_cost_usd: float | None
    #: cost of earlier runs of the same output folder (a resumed run), counted against the cap
    spent_usd: float
    stats: TeacherStats
    #: worst-case cost of the requests in flight
    _reserved: float
    #: the running loop's state: its ``budget_changed`` event wakes requests waiting for room
    _state: _LoopState | None

    @property
    def total_cost_usd(self) -> float:
        """Cost of earlier runs (``spent_usd``) plus this client's settled cost."""
        return self.spent_usd + self.stats.cost_usd

    def cost(self, prompt_tokens: int, completion_tokens: int, discount: float = 1.0) -> float:
        """Dollars for a usage record (0 when the model has no price and no cap is set)."""
        if self.price is None:
            return 0.0
        return (
            discount * (prompt_tokens * self.price["input"] + completion_tokens * self.price["output"]) / 1e6
        )

    def estimate_cost(self, messages: list[dict], max_tokens: int, discount: float = 1.0) -> float:
        """Worst-case cost of one request: the prompt-token upper bound plus all ``max_tokens``."""
        return self.cost(prompt_token_bound(messages), max_tokens, discount)

    def reserve_now(self, amount: float) -> None:
        """Reserve ``amount`` without waiting (Batch API submissions); raises BudgetExceededError."""
        if self.max_cost_usd is None:
            return
        committed = self.total_cost_usd + self.stats.unconfirmed_cost_usd + self._reserved
        if committed + amount > self.max_cost_usd + 1e-12:
            raise BudgetExceededError(
                f"teacher: max_cost_usd={self.max_cost_usd:.4f} would be exceeded: ${committed:.4f} spent or "
                f"reserved, and this needs up to ${amount:.4f}"
            )
        self._reserved += amount

    def settle(self, reserved: float, cost: float) -> None:
        """Replace a reservation by the actual cost (0 when the request failed)."""
        self._reserved = max(0.0, self._reserved - reserved)
        self.stats.cost_usd += cost
        if cost > reserved + 1e-9 and self.max_cost_usd is not None:
            logger.warning("teacher: a reply cost $%.4f, more than its reservation $%.4f", cost, reserved)
        if self._state is not None:
            self._state.budget_changed.set()

    async def _reserve(self, state: _LoopState, amount: float) -> None:
        while True:
            committed = self.total_cost_usd + self.stats.unconfirmed_cost_usd
            if self.max_cost_usd is None or committed + self._reserved + amount <= self.max_cost_usd + 1e-12:
                self._reserved += amount
                return
            if committed + amount > self.max_cost_usd + 1e-12 or self._reserved <= 0:
                self.reserve_now(amount)  # raises with the full explanation
            state.budget_changed.clear()  # in-flight requests may settle below their reservation
            await state.budget_changed.wait()

    def to_completion(
        self, response: ChatCompletion, request_id: str, attempts: int, discount: float = 1.0
    ) -> Completion:
        """Build a :class:`Completion` from an SDK ``ChatCompletion`` (also used for Batch API output)."""
        choice = response.choices[0]
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "unknown",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens, discount),
            request_id=request_id,
            response_id=response.id,
            model=response.model,
            attempts=attempts,
            refusal=getattr(choice.message, "refusal", None),
        )

    def record(self, completion: Completion) -> None:
        """Add a successful completion's usage to :attr:`stats`."""
        self.stats.succeeded += 1
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        reasons = self.stats.finish_reasons
        reasons[completion.finish_reason] = reasons.get(completion.finish_reason, 0) + 1
