"""A scripted teacher for the builder tests: replies in the paper's numbered format, labels on request.

Why generated text instead of canned replies: a run of N rows needs many distinct instructions,
or the (real) ROUGE-L filter rightly rejects them. Each instruction is drawn from a large
vocabulary with a per-item random generator, so two of them share one or two words at most.
Faults are injected per request number through ``faults``.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from typing import Any

from bioinstruct.testing.openai_server import Reply

_PREFIXES = (
    "cardio",
    "neuro",
    "hepato",
    "nephro",
    "gastro",
    "pneumo",
    "osteo",
    "derma",
    "hemato",
    "onco",
    "immuno",
    "endo",
    "myo",
    "arthro",
    "angio",
    "cyto",
    "histo",
    "litho",
    "patho",
    "pharmaco",
    "toxico",
    "uro",
    "oto",
    "rhino",
    "ophthalmo",
)
_SUFFIXES = (
    "logy",
    "pathy",
    "genesis",
    "lysis",
    "plasty",
    "scopy",
    "megaly",
    "trophy",
    "sclerosis",
    "itis",
    "emia",
    "osis",
    "algia",
    "rrhea",
    "plegia",
    "cyte",
    "blast",
    "gram",
    "tomy",
    "stasis",
)
_VERBS = (
    "Summarize",
    "Explain",
    "Classify",
    "Extract",
    "Describe",
    "Compare",
    "Identify",
    "List",
    "Assess",
    "Rewrite",
    "Translate",
    "Determine",
    "Evaluate",
    "Outline",
    "Predict",
)
WORDS = tuple(p + s for p in _PREFIXES for s in _SUFFIXES)
LABEL_MARKER = "Assign each biomedical task instruction below"


def instruction_text(key: str) -> str:
    rng = random.Random(key)
    return f"{rng.choice(_VERBS)} " + " ".join(rng.sample(WORDS, 7)) + "."


def numbered_item(number: int, instruction: str, input_text: str, output: str) -> str:
    return f"###\n{number}. Instruction: {instruction}\n{number}. Input:\n{input_text}\n{number}. Output:\n{output}\n"


def good_reply(key: str, first: int = 4, last: int = 20) -> str:
    """A well-formed list of items ``first``..``last`` with distinct instructions."""
    return "".join(
        numbered_item(
            n, instruction_text(f"{key}:{n}"), f"Patient note {key} {n}: BP 120/80.", f"Answer {key} {n}."
        )
        for n in range(first, last + 1)
    )


def label_reply(request: dict[str, Any], label_for: Callable[[str], str] | None = None) -> str:
    prompt = request["messages"][-1]["content"]
    section = prompt.split("Instructions:\n", 1)[1].split("\n\nReply with", 1)[0]
    lines = []
    for line in section.splitlines():
        match = re.match(r"^(\d+)\. (.*)$", line)
        if match:
            text = match.group(2)
            label = label_for(text) if label_for else ("QA", "IE", "GEN", "OTHER")[len(text) % 4]
            lines.append(f"{match.group(1)}. {label}")
    return "\n".join(lines)


class ScriptedTeacher:
    """Responder for ``LocalOpenAIServer``: generation requests get ``good_reply`` unless ``faults``
    maps the generation request number (1-based, in arrival order) to a ``Reply`` or a callable."""

    def __init__(
        self,
        faults: dict[int, Any] | None = None,
        label_faults: dict[int, Any] | None = None,
        items: tuple[int, int] = (4, 20),
        delay: float = 0.0,
    ) -> None:
        self.faults = faults or {}
        self.label_faults = label_faults or {}
        self.items = items
        self.delay = delay
        self.generation_calls = 0
        self.label_calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        prompt = request["messages"][-1]["content"]
        with self._lock:
            if LABEL_MARKER in prompt:
                self.label_calls += 1
                number, table = self.label_calls, self.label_faults
            else:
                self.generation_calls += 1
                number, table = self.generation_calls, self.faults
        fault = table.get(number)
        if callable(fault):
            return fault(request)
        if fault is not None:
            return fault
        if LABEL_MARKER in prompt:
            return Reply(label_reply(request))
        return Reply(good_reply(f"g{number}", *self.items), delay=self.delay)
