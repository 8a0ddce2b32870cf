"""The generative-protocol answer parser on a table of messy model outputs."""

from __future__ import annotations

import pytest

from bioinstruct.evaluation.answer_parsing import parse_answer, parse_choice

LETTERS = ["A", "B", "C", "D"]
OPTIONS = [
    "An increase in right atrial pressure",
    "An increase in pulmonary capillary wedge pressure",
    "A reduction in the slope of the pacemaker potential",
    "A reduction in diastolic filling time",
]
YNM = ["yes", "no", "maybe"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("B", 1),
        ("b", 1),
        ("B)", 1),
        ("B.", 1),
        ("(B)", 1),
        ("[C]", 2),
        ("(B) An increase in pulmonary capillary wedge pressure", 1),
        ("B) An increase in pulmonary capillary wedge pressure", 1),
        ("D. A reduction in diastolic filling time", 3),
        ("Answer: C", 2),
        ("The answer is B.", 1),
        ("The correct answer is (D)", 3),
        ("**B**", 1),
        ("  \n B \n explanation follows", 1),
        ("A reduction in diastolic filling time", 3),  # option text that starts with the word "A"
        ("a reduction in diastolic filling time.", 3),
        ("I think it is an increase in right atrial pressure, because preload rises", 0),
        ("After thinking, the answer is C because of vagal tone", 2),
        ("B The wedge pressure rises", 1),
        ("", None),
        ("   ", None),
        ("I don't know", None),
        ("A or B", None),
        ("An increase", None),  # matches two options equally
        ("E", None),
    ],
)
def test_letter_questions(output: str, expected: int | None) -> None:
    assert parse_choice(output, LETTERS, OPTIONS) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("yes", 0),
        ("Yes.", 0),
        ("YES, the study shows an association", 0),
        ("No", 1),
        ("no.", 1),
        ("Maybe", 2),
        ("Answer: maybe", 2),
        ("The answer is no", 1),
        ("Based on the abstract, the answer is yes.", 0),
        ("Nope", None),
        ("yes or no, it depends", None),
        (None, None),
    ],
)
def test_yes_no_maybe(output: str | None, expected: int | None) -> None:
    assert parse_choice(output, YNM, YNM) == expected


def test_nli_labels() -> None:
    labels = ["entailment", "contradiction", "neutral"]
    assert parse_choice("Contradiction.", labels, labels) == 1
    assert parse_choice("The relation is neutral", labels, labels) == 2
    assert parse_choice("entails", labels, labels) is None


# Replies SmolLM2-135M-Instruct actually wrote under the generative protocol (issue 11).
OVERDOSE = ["Ethanol", "Flumazenil", "Naloxone", "Atropine"]
QUESTION = (
    "A 29-year-old woman is brought to the emergency department after she was found unresponsive "
    "with pinpoint pupils. Which of the following is the most appropriate next step?"
)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("A. Ethanol\nB. Naloxone\nC. Naloxone", "lists several options"),
        ("A.\nB.\nC.\nD.", "lists several options"),
        ("A. A 29-year-old woman is brought to the emergency department", "repeats the question"),
        ("A 29-year-old woman is brought to the emergency department after", "repeats the question"),
        ("A positive correlation between opioid use and respiratory depression.", "names no choice"),
        ("", "empty"),
    ],
)
def test_echoes_and_lists_are_unparseable(output: str, reason: str) -> None:
    parsed = parse_answer(output, LETTERS, OVERDOSE, QUESTION)
    assert (parsed.index, parsed.reason) == (None, reason)
    assert parse_choice(output, LETTERS, OVERDOSE, QUESTION) is None


def test_the_article_a_is_not_the_letter_a_without_a_question() -> None:
    assert parse_choice("A positive correlation was found", LETTERS, OVERDOSE) is None
    assert parse_choice("A The first option", LETTERS, OVERDOSE) == 0


def test_letter_text_conflict_is_flagged_and_the_letter_wins() -> None:
    conflicting = parse_answer("B. Naloxone", LETTERS, OVERDOSE, QUESTION)
    assert (conflicting.index, conflicting.conflict) == (1, 2)
    agreeing = parse_answer("C. Naloxone", LETTERS, OVERDOSE, QUESTION)
    assert (agreeing.index, agreeing.conflict) == (2, None)
    assert parse_answer("C", LETTERS, OVERDOSE).conflict is None
    assert parse_answer("(B) Flumazenil, a benzodiazepine antagonist", LETTERS, OVERDOSE).conflict is None


def test_a_single_option_with_explanation_is_not_a_list() -> None:
    assert parse_choice("C. Naloxone\nIt reverses opioid toxicity.", LETTERS, OVERDOSE) == 2


def test_yes_no_echo_of_the_question() -> None:
    question = "Is naloxone effective for reversing opioid overdose in adults?"
    parsed = parse_answer("Is naloxone effective for reversing opioid overdose?", YNM, YNM, question)
    assert (parsed.index, parsed.reason) == (None, "repeats the question")
