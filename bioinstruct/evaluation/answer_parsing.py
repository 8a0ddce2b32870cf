"""Map a generated answer back to one of a question's choices.

Why a careful parser: under the generative protocol a model writes "B", "B)", "(B) Insulin",
"The answer is B.", the option text itself, or "Yes, because ...". Scoring only an exact
letter under-rates instruction-tuned models; guessing over-rates them. Each rule below is
unambiguous; when none applies (or two choices are equally named) the answer is
*unparseable*, counted wrong and reported, never guessed.

Order matters: the option text is tried before a bare leading letter, because an option such
as "A reduction in diastolic filling time" starts with the word "A".

Echoes name no answer. Small models often repeat the prompt instead of answering; each of these
is unparseable (measured on SmolLM2-135M-Instruct, which wrote all of them):

* a reply that lists several options ("A. Ethanol\nB. Naloxone\nC. Naloxone", "A.\nB.\nC.\nD.");
* a reply that repeats the question, with or without a letter ("A. A 29-year-old man ...");
* the article "A" ("A positive correlation ...") is not the letter A.

Letter/text conflicts: when a reply gives a letter and quotes the text of a *different* option
("B. Naloxone" where B is Ethanol and C is Naloxone), the letter wins: the prompt asked for a
letter, and lm-evaluation-harness's ``MultiChoiceRegexFilter`` also tries the letter pattern
before option texts. The reply is flagged ``conflict``, so the evaluator counts it
(``letter_text_conflicts``) and marks the sample with the option its text quotes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_PREFIX = re.compile(
    r"^(?:(?:so|thus|therefore|hence),?\s+)?(?:the\s+)?(?:correct\s+|final\s+|best\s+|right\s+)?"
    r"(?:answer|option|choice|output|response|label)(?:\s+is)?\s*(?:[:\-=]\s*)?",
    re.IGNORECASE,
)
_DECORATION = "*_`\"'“”‘’ \t\n"


def _normalize(text: str) -> str:
    """Lowercase, NFKC, punctuation to spaces, single spaces: for comparing option texts."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().strip(_DECORATION)
    for _ in range(2):  # "Answer: The answer is (B)"
        text = _PREFIX.sub("", text, count=1).strip().strip(_DECORATION)
    return text


def _is_letter_set(labels: Sequence[str]) -> bool:
    return all(len(label) == 1 and label.isalpha() for label in labels)


def _letter(text: str, labels: Sequence[str]) -> int | None:
    upper = [label.upper() for label in labels]
    alternatives = "".join(upper) + "".join(upper).lower()
    # "B", "b", "B.", "(B)", "[B]", "B)"
    bare = re.fullmatch(rf"[\(\[]?([{alternatives}])[\)\]]?[.:,;!]?", text)
    if bare:
        return upper.index(bare.group(1).upper())
    # "B) text", "(B) text", "B. text", "B: text", "b) text"
    delimited = re.match(rf"^[\(\[]?([{alternatives}])(?:[\)\]]|[.:](?=\s|$)|\s*[-–]\s)", text)
    if delimited:
        return upper.index(delimited.group(1).upper())
    return None


def _option_text(text: str, choices: Sequence[str]) -> int | None:
    said = _normalize(text)
    options = [_normalize(choice) for choice in choices]
    if not said:
        return None
    exact = [i for i, option in enumerate(options) if option and option == said]
    if len(exact) == 1:
        return exact[0]
    leading = [i for i, option in enumerate(options) if option and (said + " ").startswith(option + " ")]
    if leading:
        longest = max(leading, key=lambda i: len(options[i]))
        if sum(len(options[i]) == len(options[longest]) for i in leading) == 1:
            return longest
    inside = [i for i, option in enumerate(options) if option and f" {option} " in f" {said} "]
    # Drop options that are only mentioned as part of a longer mentioned option.
    inside = [i for i in inside if not any(j != i and options[i] in options[j] for j in inside)]
    return inside[0] if len(inside) == 1 else None


def _hedged(said: str, words: Sequence[str]) -> bool:
    """ "yes or no", "A/B": two labels offered as alternatives name no answer."""
    alternatives = "|".join(re.escape(word) for word in words)
    return (
        re.match(rf"^(?:{alternatives})\s*(?:or|/|and)\s*(?:{alternatives})\b", said, re.IGNORECASE)
        is not None
    )


def _word_label(text: str, labels: Sequence[str]) -> int | None:
    said = _normalize(text)
    words = [_normalize(label) for label in labels]
    if _hedged(said, words):
        return None
    for i, word in enumerate(words):
        if (said + " ").startswith(word + " "):
            return i
    mentioned = [i for i, word in enumerate(words) if re.search(rf"\b{re.escape(word)}\b", said)]
    return mentioned[0] if len(mentioned) == 1 else None


def _letter_in_context(text: str, labels: Sequence[str]) -> int | None:
    upper = [label.upper() for label in labels]
    if _hedged(text, upper):
        return None
    found = re.findall(
        rf"\b(?:answer|option|choice)\s*(?:is\s*)?[:\-]?\s*[\(\[]?([{''.join(upper)}])\b",
        text,
        flags=re.IGNORECASE,
    )
    letters = {letter.upper() for letter in found}
    if len(letters) == 1:
        return upper.index(letters.pop())
    # "B The right atrium ..." (capital only); "A positive correlation" is the article, not a letter.
    leading = re.match(rf"^([{''.join(upper)}])\s+(?=[A-Z])", text)
    return upper.index(leading.group(1)) if leading else None


@dataclass(frozen=True)
class ParsedAnswer:
    """What a generated answer names: ``index`` (None: unparseable, with ``reason``) and any conflict."""

    index: int | None
    reason: str | None = None
    #: Index of the option whose text the reply quotes when it differs from the letter it gives.
    conflict: int | None = None


_LISTED = r"^\s*[\(\[]?([{letters}])(?:[\)\]]|[.:])(?:\s|$)"
_ECHO_WORDS = 6


def _listed_letters(text: str, labels: Sequence[str]) -> set[str]:
    """Distinct option letters that open a line ("A. ...", "(B) ...", "C:"): two or more is a list."""
    upper = "".join(label.upper() for label in labels)
    pattern = re.compile(_LISTED.format(letters=upper + upper.lower()))
    return {m.group(1).upper() for line in text.splitlines() if (m := pattern.match(line))}


def _after_letter(text: str, labels: Sequence[str]) -> str:
    """``text`` without a leading "B.", "(B)", "B)" or "B -" (the rest of the reply)."""
    letters = "".join(label.upper() for label in labels)
    letters += letters.lower()
    return re.sub(rf"^[\(\[]?[{letters}](?:[\)\]]|[.:](?=\s|$)|\s*[-–]\s)\s*", "", text, count=1)


def _echoes(text: str, question: str | None) -> bool:
    """Does ``text`` open with the question's first words (a repeat of the prompt, not an answer)?"""
    if not question:
        return False
    asked = _normalize(question).split()[:_ECHO_WORDS]
    said = _normalize(text).split()[: len(asked)]
    return len(asked) >= 3 and said == asked


def parse_answer(
    text: str | None,
    labels: Sequence[str],
    choices: Sequence[str] | None = None,
    question: str | None = None,
) -> ParsedAnswer:
    """The choice that ``text`` names, why none does, and any letter/text conflict.

    ``labels`` are what the prompt asked for (``["A", "B", "C", "D"]`` or ``["yes", "no",
    "maybe"]``); ``choices`` are the option texts (may equal the labels); ``question`` (the
    question without options) lets a reply that only repeats it be recognised as an echo.
    """
    if not text or not text.strip():
        return ParsedAnswer(None, "empty")
    cleaned = _clean(text)
    first_line = next((line.strip() for line in cleaned.splitlines() if line.strip()), "")
    if not _is_letter_set(labels):
        if _echoes(first_line, question):
            return ParsedAnswer(None, "repeats the question")
        found = _word_label(first_line, labels)
        if found is None and choices and list(choices) != list(labels):
            found = _option_text(cleaned, choices)
        if found is None:
            found = _word_label(cleaned, labels)
        return ParsedAnswer(found, None if found is not None else "names no choice")
    if len(_listed_letters(cleaned, labels)) >= 2:
        return ParsedAnswer(None, "lists several options")
    rest = _after_letter(first_line, labels)
    if _echoes(rest, question):
        return ParsedAnswer(None, "repeats the question")
    for candidate in (first_line, cleaned):
        found = _letter(candidate, labels)
        if found is not None:
            quoted = _option_text(rest, choices) if choices and rest and rest != first_line else None
            conflict = quoted if quoted is not None and quoted != found else None
            return ParsedAnswer(found, None, conflict)
    if choices:
        found = _option_text(first_line, choices)
        if found is None:
            found = _option_text(cleaned, choices)
        if found is not None:
            return ParsedAnswer(found)
    found = _letter_in_context(cleaned, labels)
    return ParsedAnswer(found, None if found is not None else "names no choice")


def parse_choice(
    text: str | None,
    labels: Sequence[str],
    choices: Sequence[str] | None = None,
    question: str | None = None,
) -> int | None:
    """Index of the choice that ``text`` names, or ``None`` when it is unparseable (see :func:`parse_answer`)."""
    return parse_answer(text, labels, choices, question).index
