"""Model prices and prompt-token estimates for the teacher client's cost accounting.

Why this is its own module: the budget cap (``max_cost_usd``) needs two things that have nothing to
do with sending requests: the bundled ``prices.json`` table (with dated snapshots such as
``gpt-4o-2024-08-06`` falling back to their family price), and token counts for a prompt before it
is sent, both a typical estimate for rate-limit pacing and a strict upper bound for reserving the
worst-case cost. The Batch API runner and the benchmarks use them without a live client.
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import Any

_DATED_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})(-preview)?$")


def load_price_table() -> dict[str, Any]:
    """The bundled ``prices.json`` ($ per 1M tokens, with its date and source)."""
    text = resources.files("bioinstruct.llm").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)


def resolve_price(model: str, table: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """Price of ``model``; a dated snapshot (``gpt-4o-2024-08-06``) falls back to its family name."""
    if model in table:
        return table[model]
    base = _DATED_SUFFIX.sub("", model)
    return table.get(base)


def _message_texts(messages: list[dict]) -> list[str]:
    texts = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        texts.append(str(content))
    return texts


def estimate_prompt_tokens(messages: list[dict]) -> int:
    """Typical token count (~4 characters a token, as OpenAI's own rate limiter estimates)."""
    return sum(math.ceil(len(text) / 4) + 4 for text in _message_texts(messages)) + 3


def prompt_token_bound(messages: list[dict]) -> int:
    """An upper bound on prompt tokens: a byte-level BPE token covers at least one UTF-8 byte."""
    return sum(len(text.encode("utf-8")) + 4 for text in _message_texts(messages)) + 3
