"""Rebuild gold entity mentions from token-level IOB tags.

Why: the NER benchmarks (BLURB BC5CDR, NCBI-disease) ship CoNLL tokens with IOB tags, but a
generative model answers with a list of mention strings. We turn the tags back into spans
and their surface text, and score the model's list against those mentions
(``metrics.entity_prf``). The chunking is ``seqeval``'s (conlleval's rules: an ``I`` that does
not continue an entity of the same type starts a new one, so malformed tag sequences are never
silently dropped); this module adds ClassLabel ids, validation and the surface text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bioinstruct.errors import DataError

#: The ClassLabel order of ``bigbio/blurb`` (bc5chem, bc5disease, ncbi_disease) and HF ``ncbi_disease``.
BLURB_TAG_NAMES: tuple[str, ...] = ("O", "B", "I")


@dataclass(frozen=True)
class Span:
    """Tokens ``[start, end)`` of one mention, its entity type ("" when untyped) and text."""

    start: int
    end: int
    label: str
    text: str


def _split_tag(tag: str) -> tuple[str, str]:
    tag = tag.strip()
    if tag in ("O", ""):
        return "O", ""
    prefix, _, label = tag.partition("-")
    prefix = prefix.upper()
    if prefix not in ("B", "I", "E", "S"):
        raise DataError(f"unknown IOB tag {tag!r}: expected O, B[-type], I[-type] (E/S also accepted)")
    return prefix, label


def spans_from_iob(
    tokens: Sequence[str],
    tags: Sequence[int | str],
    *,
    tag_names: Sequence[str] = BLURB_TAG_NAMES,
) -> list[Span]:
    """Spans of the entities in one sentence.

    ``tags`` are strings (``"B-Disease"``) or ClassLabel ids looked up in ``tag_names``. Span
    text joins the tokens with single spaces (the tokenised text; ``normalize_entity`` removes
    the spaces next to punctuation when matching).
    """
    if len(tokens) != len(tags):
        raise DataError(f"a sentence has {len(tokens)} tokens but {len(tags)} IOB tags; they must align")
    from seqeval.metrics.sequence_labeling import get_entities

    normalized = []
    for raw in tags:
        if isinstance(raw, str):
            tag = raw
        else:
            if not 0 <= int(raw) < len(tag_names):
                raise DataError(f"IOB tag id {raw} is outside the tag names {list(tag_names)}")
            tag = tag_names[int(raw)]
        prefix, label = _split_tag(tag)
        normalized.append(prefix if prefix == "O" or not label else f"{prefix}-{label}")
    # seqeval's chunking is conlleval's; it names an untyped entity "_"
    return [
        Span(start, end + 1, "" if label == "_" else label, " ".join(tokens[start : end + 1]))
        for label, start, end in get_entities(normalized)
    ]


def mentions_from_iob(
    tokens: Sequence[str], tags: Sequence[int | str], *, tag_names: Sequence[str] = BLURB_TAG_NAMES
) -> list[str]:
    """Just the surface texts of ``spans_from_iob`` (duplicates kept: they are scored as a multiset)."""
    return [span.text for span in spans_from_iob(tokens, tags, tag_names=tag_names)]
