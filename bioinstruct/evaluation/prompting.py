"""Evaluation prompts: templates and few-shot demonstrations chosen with a fixed seed.

Why reuse the training templates: a fine-tuned model should be asked exactly what it was
trained on, so ``bioinstruct``/``alpaca``/``chat`` come from
:mod:`bioinstruct.formatting`. ``plain`` is the bare completion layout of
lm-evaluation-harness (see ``prompts/eval_prompts.yaml``), which base models and lm-eval
comparisons need. Demonstrations are drawn once per benchmark with ``random.Random(seed)``, so
every item sees the same shots and a rerun sees the same prompt (the cache relies on it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bioinstruct import formatting
from bioinstruct.benchmarks import Item
from bioinstruct.errors import ConfigError

PLAIN = "plain"
CHAT = formatting.CHAT_TEMPLATE_NAME


@cache
def eval_prompts() -> dict[str, Any]:
    """The parsed ``prompts/eval_prompts.yaml`` (the plain template and the separators)."""
    text = (
        resources.files("bioinstruct.evaluation")
        .joinpath("prompts/eval_prompts.yaml")
        .read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def template_names() -> list[str]:
    return [*formatting.template_names(), PLAIN]


def check_template(name: str) -> None:
    if name not in template_names():
        raise ConfigError(f"unknown prompt template {name!r}; expected one of {', '.join(template_names())}")


@dataclass
class Prompt:
    """A rendered prompt in both forms a backend may need.

    ``text`` is the exact string a completion model sees (``None`` for the chat template,
    which the tokenizer renders); ``messages`` is the chat form (for chat templates and
    OpenAI-compatible endpoints). In log-likelihood scoring a choice's continuation is
    ``target_delimiter + label``.
    """

    messages: list[dict[str, str]]
    text: str | None
    target_delimiter: str = ""
    demo_ids: list[str] = field(default_factory=list)


def _separators(template: str) -> tuple[str, str]:
    spec = eval_prompts()[PLAIN] if template == PLAIN else eval_prompts()["text_templates"]
    return spec["target_delimiter"], spec["fewshot_delimiter"]


def _render_text(item: Item, template: str) -> str:
    if template == PLAIN:
        kind = "multiple_choice" if item.choices is not None else "generation"
        values = {"instruction": item.instruction.strip(), "input": item.input}
        return formatting.fill_fields(eval_prompts()[PLAIN][kind], values)
    return formatting.render_prompt(item.instruction, item.input, template)


def render(item: Item, template: str = "bioinstruct", demos: Sequence[Item] = ()) -> Prompt:
    """Render ``item`` (after ``demos``, each followed by its gold answer) with ``template``; ``plain``
    starts with ``item.preamble`` (lm-eval's task description, e.g. MMLU's), shown once."""
    check_template(template)
    ids = [demo.id for demo in demos]
    if template == CHAT:
        messages: list[dict[str, str]] = []
        for demo in demos:
            messages += formatting.render_chat_messages(demo.instruction, demo.input)
            messages.append({"role": "assistant", "content": demo.answer_text})
        messages += formatting.render_chat_messages(item.instruction, item.input)
        return Prompt(messages=messages, text=None, target_delimiter="", demo_ids=ids)
    target_delimiter, fewshot_delimiter = _separators(template)
    shots = [_render_text(demo, template) + target_delimiter + demo.answer_text for demo in demos]
    text = fewshot_delimiter.join([*shots, _render_text(item, template)])
    if template == PLAIN:  # lm-eval's task description: once, before the demonstrations
        text = item.preamble + text
    return Prompt(
        messages=[{"role": "user", "content": text}],
        text=text,
        target_delimiter=target_delimiter,
        demo_ids=ids,
    )


def select_demonstrations(
    pool: Sequence[Item], k: int, *, seed: int = 0, exclude_ids: Sequence[str] = ()
) -> list[Item]:
    """``k`` demonstrations drawn from ``pool`` with ``random.Random(seed)``, never an excluded id.

    Excluding the evaluated ids matters when the only pool is the test file itself (a user's
    local file): an item must never be its own demonstration.
    """
    if k <= 0:
        return []
    excluded = set(exclude_ids)
    candidates = [item for item in pool if item.id not in excluded]
    if len(candidates) < k:
        overlap = (
            f" ({len(pool) - len(candidates)} rows of the pool are evaluated items and cannot be their own "
            "demonstrations: pass a train split with --fewshot-file, or use --limit)"
            if len(candidates) < len(pool)
            else ""
        )
        raise ConfigError(
            f"asked for {k} few-shot demonstrations but only {len(candidates)} are available{overlap}"
        )
    return random.Random(seed).sample(candidates, k)
