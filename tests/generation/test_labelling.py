"""Category labels: the `N. LABEL` reply format, retries that change the prompt, never a guess.

The ``REAL_*`` replies were written by SmolLM2-135M-Instruct behind ``transformers serve``
(see tests/generation/test_real_teacher.py, which checks the live model end to end)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bioinstruct.generation.labelling import (
    FIRST_TEMPERATURE,
    RETRY_TEMPERATURE,
    describe_problem,
    label_instructions,
    max_label_tokens,
    parse_labels,
)
from bioinstruct.schemas import CATEGORIES

#: SmolLM2-135M-Instruct's reply to a two-item labelling prompt (issue 11): numbers, no labels.
REAL_NUMBERS_REPLY = "1. 20.\n2. 20."
#: its reply to a three-item prompt here: the instructions echoed, shifted by one
REAL_ECHO_REPLY = (
    "1. Extract all drug names from the clinical note.\n2. Summarize the abstract in two sentences.\n"
    "3. Write nothing else."
)


def test_parse_labels_accepts_common_decorations():
    text = "Sure:\n1. QA\n2. **IE**\n3) gen.\n- 4. `OTHER`\n"
    assert parse_labels(text, 4) == {1: "QA", 2: "IE", 3: "GEN", 4: "OTHER"}


def test_parse_labels_reads_names_and_unnumbered_lists_but_never_guesses():
    assert parse_labels("1. Question answering\n2. IE - extraction of doses", 2) == {1: "QA", 2: "IE"}
    assert parse_labels("QA\nIE", 2) == {1: "QA", 2: "IE"}  # exactly one label per item, in order
    assert parse_labels("QA\nIE", 3) == {}  # one short: which one is missing is unknown
    text = "1. QA\n2. Explain the term\n3. IE\n3. GEN\n5. QA\n4. QA"
    assert parse_labels(text, 4) == {1: "QA", 4: "QA"}  # 2 unknown, 3 ambiguous, 5 out of range
    # an echoed instruction that merely contains the word "other" is not the label OTHER
    assert parse_labels("1. Compare this drug with other statins", 1) == {}
    assert parse_labels(None, 2) == {}
    assert CATEGORIES == ("QA", "IE", "GEN", "OTHER")


def test_the_real_small_models_number_reply_reads_as_no_label_and_the_problem_is_named():
    assert parse_labels(REAL_NUMBERS_REPLY, 2) == {}
    assert parse_labels(REAL_ECHO_REPLY, 3) == {}  # the instructions echoed, no category anywhere
    problem = describe_problem(REAL_NUMBERS_REPLY, 2, {})
    assert problem == "items 1, 2 got no label of QA, IE, GEN or OTHER (for example the line '1. 20.')"


class FakeAsk:
    """Answers each labelling request with the next scripted reply, recording what was sent."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []

    async def __call__(self, messages, max_tokens, temperature):
        self.requests.append((messages[-1]["content"], max_tokens, temperature))
        return SimpleNamespace(text=self.replies.pop(0))


INSTRUCTIONS = ["What causes gout?", "Extract doses from the note.", "Write a discharge summary."]


def test_retries_only_the_missing_items_renumbered():
    ask = FakeAsk(["1. QA\n2. ???\n3. GEN", "1. IE"])
    outcome = asyncio.run(label_instructions(ask, INSTRUCTIONS))
    assert outcome.labels == ["QA", "IE", "GEN"]
    assert outcome.attempts == 2 and outcome.unreadable_replies == 1
    retry_prompt, retry_tokens, _ = ask.requests[1]
    assert "1. Extract doses from the note.\n" in retry_prompt and "What causes gout" not in retry_prompt
    assert retry_tokens == max_label_tokens(1) and ask.requests[0][1] == max_label_tokens(3)


def test_a_retry_names_the_problem_and_is_not_the_identical_request():
    ask = FakeAsk([REAL_NUMBERS_REPLY, "1. QA\n2. IE"])
    outcome = asyncio.run(label_instructions(ask, INSTRUCTIONS[:2]))
    assert outcome.labels == ["QA", "IE"] and outcome.problems == [
        describe_problem(REAL_NUMBERS_REPLY, 2, {})
    ]
    (first, _, t1), (second, _, t2) = ask.requests
    assert second.startswith(first.rstrip()) and second != first
    assert "Your previous reply could not be used: items 1, 2 got no label" in second
    assert "'1. 20.'" in second and '"1. LABEL" to "2. LABEL"' in second
    assert (t1, t2) == (FIRST_TEMPERATURE, RETRY_TEMPERATURE) and t1 != t2


def test_gives_up_after_max_attempts_without_guessing():
    ask = FakeAsk(["1. QA", "nonsense", "still nonsense"])
    outcome = asyncio.run(label_instructions(ask, INSTRUCTIONS, max_attempts=3))
    assert outcome.labels == ["QA", None, None]
    assert outcome.attempts == 3 and len(ask.requests) == 3 and not ask.replies
    assert len(outcome.problems) == 3 and "'nonsense'" in outcome.problems[1]
