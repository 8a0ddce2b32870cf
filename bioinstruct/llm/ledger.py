"""The dollar ledger of :class:`~bioinstruct.llm.client.TeacherClient`: never spend more than ``max_cost_usd``.

Why apart from the client: the cap is the one promise of the client that is about money, not HTTP.
The worst-case cost of every request (its prompt-token upper bound plus all of ``max_tokens``) is
reserved before it is sent and settled from the reported usage on reply, so requests in flight can
never add up past the cap; a request that does not fit waits for in-flight ones to settle below
their reservation, or fails at once with :class:`BudgetExceededError` when it could never fit. The
Batch API runner reserves a whole batch with :meth:`CostLedger.reserve_now` and settles it the same
way. Clients joined by :meth:`CostLedger.share_budget` (the teacher and a reviewer on another
endpoint) count each other's spend and reservations against the one cap. This is a mixin: the client holds the state (below) and calls these methods; it also turns a reply
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

    #: the clients whose costs count against this cap (this one, and any joined by share_budget)
    _budget_group: list[CostLedger]

    @property
    def total_cost_usd(self) -> float:
        """Cost of earlier runs (``spent_usd``) plus the settled cost of every client sharing the cap."""
        return sum(c.spent_usd + c.stats.cost_usd for c in self._budget_group)

    def share_budget(self, other: CostLedger) -> None:
        """Count this client's costs and ``other``'s against one cap (both must have the same one)."""
        if other.max_cost_usd != self.max_cost_usd:
            raise ValueError("clients sharing a budget must have the same max_cost_usd")
        other._budget_group.extend(c for c in self._budget_group if c not in other._budget_group)
        for client in other._budget_group:
            client._budget_group = other._budget_group

    def _committed(self) -> float:
        """Settled, unconfirmed and reserved dollars of every client sharing the cap."""
        group = self._budget_group
        return self.total_cost_usd + sum(c.stats.unconfirmed_cost_usd + c._reserved for c in group)

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
        committed = self._committed()
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
        for client in self._budget_group:  # a request of either client may be waiting for room
            if client._state is not None:
                client._state.budget_changed.set()

    async def _reserve(self, state: _LoopState, amount: float) -> None:
        while True:
            committed = self._committed()
            if self.max_cost_usd is None or committed + amount <= self.max_cost_usd + 1e-12:
                self._reserved += amount
                return
            reserved = sum(c._reserved for c in self._budget_group)
            if committed - reserved + amount > self.max_cost_usd + 1e-12 or reserved <= 0:
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
