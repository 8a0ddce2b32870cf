"""The generative-protocol answer parser on a table of messy model outputs."""

from __future__ import annotations

import pytest

from bioinstruct.evaluation.answer_parsing import parse_choice

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
