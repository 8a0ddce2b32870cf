"""OpenAI-compatible backend: GPT-4, Azure, or a local vLLM/TGI server; generative protocol only.

Why reuse the builder's :class:`~bioinstruct.llm.client.TeacherClient`: pacing
(requests and tokens per minute), retries with Retry-After, a hard cost cap and cost
accounting are already solved there, and an evaluation run against GPT-4 needs all of them.
Chat endpoints expose no log-probabilities of arbitrary continuations, so only the generative
protocol is offered. ``adapters`` are further model names served by the same endpoint (vLLM
serves each LoRA module under its own name), evaluated one after the other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from bioinstruct.evaluation.backends import Progress, cut_at_stop, sample_seed
from bioinstruct.evaluation.backends.base import BaseBackend
from bioinstruct.evaluation.prompting import Prompt
from bioinstruct.llm.sync import run_sync


class OpenAIBackend(BaseBackend):
    """Greedy (temperature 0) chat completions through the builder's paced, budget-capped client."""

    def __init__(
        self,
        model: str,
        *,
        adapters: Sequence[str] | None = None,
        temperature: float = 0.0,
        **client_options: Any,
    ) -> None:
        """``client_options`` go to the shared :class:`~bioinstruct.llm.client.TeacherClient`
        (``base_url``, ``api_key``, ``max_cost_usd``, ``max_concurrency``, ``requests_per_minute``, ...)."""
        from bioinstruct.llm.client import TeacherClient

        super().__init__(model, [(str(name), str(name)) for name in adapters or []])
        self.temperature = temperature
        # One client per served model name; they share one budget by passing on what was spent.
        self._clients = {
            name: TeacherClient(name, **client_options) for name in [model, *dict(self.adapters)]
        }

    def prompt_text(self, prompt: Prompt) -> str:
        return (
            prompt.text
            if prompt.text is not None
            else "\n\n".join(f"[{message['role']}] {message['content']}" for message in prompt.messages)
        )

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Progress = None,
    ) -> list[str]:
        return self._complete(
            [(prompt, None) for prompt in prompts], max_new_tokens, stop, self.temperature, progress
        )

    def _complete(
        self,
        requests: Sequence[tuple[Prompt, int | None]],
        max_new_tokens: int,
        stop: Sequence[str],
        temperature: float,
        progress: Progress,
    ) -> list[str]:
        """One chat request per ``(prompt, seed)`` (seed None: none sent), all in flight at once."""
        served = self.active or self.model_name
        client = self._clients[served]
        # The cap holds across variants: what the other clients spent counts as spent here.
        client.spent_usd = sum(c.stats.cost_usd for name, c in self._clients.items() if name != served)

        async def one(prompt: Prompt, seed: int | None) -> str:
            completion = await client.complete(
                prompt.messages,
                max_tokens=max_new_tokens,
                temperature=temperature,
                stop=list(stop)[:4] or None,
                request_id=uuid.uuid4().hex,
                seed=seed,
            )
            if progress:
                progress(1)
            return cut_at_stop(completion.text, stop).strip()

        async def all_of() -> list[str]:
            try:
                return list(await asyncio.gather(*(one(prompt, seed) for prompt, seed in requests)))
            finally:
                await client.aclose()

        return run_sync(all_of())

    def sample(
        self,
        prompts: Sequence[Prompt],
        *,
        n: int,
        temperature: float,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        seed: int = 0,
        progress: Progress = None,
    ) -> list[list[str]]:
        """``n`` replies per prompt: ``n`` requests at ``temperature``, each with its own OpenAI
        ``seed`` (from the prompt), since not every compatible server honours ``n``."""
        flat = [
            (prompt, sample_seed(seed, self.prompt_text(prompt)) + j) for prompt in prompts for j in range(n)
        ]
        sent = [0]

        def per_prompt(done: int) -> None:  # the bar counts questions, not requests
            sent[0] += done
            if progress and sent[0] % n == 0:
                progress(1)

        texts = self._complete(flat, max_new_tokens, stop, temperature, per_prompt)
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    @property
    def has_chat_template(self) -> bool:  # type: ignore[override]
        return True  # the endpoint renders every request's messages with the served model's template

    def chat_template_name(self) -> str | None:
        return "the endpoint's own (the server applies the served model's chat template)"

    def info(self) -> dict[str, Any]:
        client = self._clients[self.model_name]
        return {
            "backend": "openai",
            "endpoint": client.base_url,
            "temperature": self.temperature,
            **super().info(),
            "usage": {name: c.stats.to_dict() for name, c in self._clients.items()},
        }

    def close(self) -> None:
        self._clients.clear()
