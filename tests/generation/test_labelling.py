"""Category labels: the `N. LABEL` reply format, retries of unreadable items, never a guess."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bioinstruct.generation.labelling import LABELS, label_instructions, max_label_tokens, parse_labels


def test_parse_labels_accepts_common_decorations():
    text = "Sure:\n1. QA\n2. **IE**\n3) gen.\n- 4. `OTHER`\n"
    assert parse_labels(text, 4) == {1: "QA", 2: "IE", 3: "GEN", 4: "OTHER"}


def test_parse_labels_leaves_out_what_it_cannot_read():
    text = "1. QA\n2. Question answering\n3. IE\n3. GEN\n5. QA\n4. QA"
    assert parse_labels(text, 4) == {1: "QA", 4: "QA"}  # 2 unknown, 3 ambiguous, 5 out of range
    assert parse_labels("QA\nIE", 2) == {}
    assert parse_labels(None, 2) == {}
    assert LABELS == ("QA", "IE", "GEN", "OTHER")


class FakeAsk:
    """Answers each labelling prompt with the next scripted reply, recording the prompts."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.prompts = []

    async def __call__(self, prompt, max_tokens):
        self.prompts.append((prompt, max_tokens))
        return SimpleNamespace(text=self.replies.pop(0))


INSTRUCTIONS = ["What causes gout?", "Extract doses from the note.", "Write a discharge summary."]


def test_retries_only_the_missing_items_renumbered():
    ask = FakeAsk(["1. QA\n2. ???\n3. GEN", "1. IE"])
    outcome = asyncio.run(label_instructions(ask, INSTRUCTIONS))
    assert outcome.labels == ["QA", "IE", "GEN"]
    assert outcome.attempts == 2 and outcome.unreadable_replies == 1
    retry_prompt, retry_tokens = ask.prompts[1]
    assert "1. Extract doses from the note.\n" in retry_prompt and "What causes gout" not in retry_prompt
    assert retry_tokens == max_label_tokens(1) and ask.prompts[0][1] == max_label_tokens(3)


def test_gives_up_after_max_attempts_without_guessing():
    ask = FakeAsk(["1. QA", "nonsense", "still nonsense"])
    outcome = asyncio.run(label_instructions(ask, INSTRUCTIONS, max_attempts=3))
    assert outcome.labels == ["QA", None, None]
    assert outcome.attempts == 3 and len(ask.prompts) == 3 and not ask.replies
