"""Map a generated answer back to one of a question's choices.

Why a careful parser: under the generative protocol a model writes "B", "B)", "(B) Insulin",
"The answer is B.", the option text itself, or "Yes, because ...". Scoring only an exact
letter under-rates instruction-tuned models; guessing over-rates them. Each rule below is
unambiguous; when none applies (or two choices are equally named) the answer is
*unparseable*, counted wrong and reported, never guessed.

Order matters: the option text is tried before a bare leading letter, because an option such
as "A reduction in diastolic filling time" starts with the word "A".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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
    leading = re.match(rf"^([{''.join(upper)}])\s", text)  # "B The right atrium ..." (capital only)
    return upper.index(leading.group(1)) if leading else None


def parse_choice(text: str | None, labels: Sequence[str], choices: Sequence[str] | None = None) -> int | None:
    """Index of the choice that ``text`` names, or ``None`` when it is unparseable.

    ``labels`` are what the prompt asked for (``["A", "B", "C", "D"]`` or ``["yes", "no",
    "maybe"]``); ``choices`` are the option texts (may equal the labels).
    """
    if not text or not text.strip():
        return None
    cleaned = _clean(text)
    first_line = next((line.strip() for line in cleaned.splitlines() if line.strip()), "")
    if _is_letter_set(labels):
        for candidate in (first_line, cleaned):
            found = _letter(candidate, labels)
            if found is not None:
                return found
        if choices:
            found = _option_text(first_line, choices)
            if found is None:
                found = _option_text(cleaned, choices)
            if found is not None:
                return found
        return _letter_in_context(cleaned, labels)
    found = _word_label(first_line, labels)
    if found is None and choices and list(choices) != list(labels):
        found = _option_text(cleaned, choices)
    if found is None:
        found = _word_label(cleaned, labels)
    return found
