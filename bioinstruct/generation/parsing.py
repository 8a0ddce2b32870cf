"""Turn a teacher reply into candidate tasks.

Why a line-oriented state machine rather than one big regex: teachers decorate the numbered
format in many small ways (``**4. Instruction:**``, ``4) Input -``, a field's value on the next
line, a multi-paragraph output, a chatty preface). Each marker line is recognised on its own and
everything up to the next marker belongs to the field it opened. Nothing here raises on bad
teacher output: a refusal or an unparseable reply is a :class:`ParseResult` with no candidates and
a ``problem`` the builder journals.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

FIELDS = ("instruction", "input", "output")

_MARKER = re.compile(
    r"""^[ \t>#*_-]*                              # heading, quote, bullet or emphasis decoration
        (?:(?P<num>\d{1,3})[ \t]*[.):][ \t]*)?     # item number: "4." "4)" "4:"
        (?:\d{1,3}[ \t]*[.):][ \t]*)*              # a repeated number ("1. 1. Instruction:", SmolLM2)
        [*_]*[ \t]*
        (?P<field>instruction|input|output)
        [ \t]*[*_]*[ \t]*[:\-]                    # "Instruction:", "**Instruction**:", "Instruction -"
        (?:[ \t]*[*_]+(?=[ \t]|$))?[ \t]*           # closing emphasis of "**4. Instruction:** text"
        (?P<rest>.*)$""",
    re.IGNORECASE | re.VERBOSE,
)
_SEPARATOR = re.compile(r"^\s*(#{3,}|-{3,}|\*{3,})\s*$")
_NO_INPUT = re.compile(
    r"^[<(\[\"']*\s*(no[ _-]?input|n/?a|none|nil|empty|not applicable|no input required)\s*[>)\]\"']*\.?$",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(I'?m sorry|I am sorry|I apologi[sz]e|I can(?:not|'t)|I'?m (?:not )?(?:un)?able|I am unable|"
    r"I won'?t|As an AI)\b",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"^(\*\*|__|\*|_|`)(?P<body>.+?)\1$", re.DOTALL)


@dataclass(frozen=True)
class Candidate:
    """One task proposed by the teacher; ``index`` is the item number it gave (4..20)."""

    index: int
    instruction: str
    input: str
    output: str

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "instruction": self.instruction,
            "input": self.input,
            "output": self.output,
        }


@dataclass
class ParseResult:
    """The candidates of one reply, and what was dropped or went wrong."""

    candidates: list[Candidate] = field(default_factory=list)
    #: items dropped because the reply stopped at the token limit (finish_reason "length")
    truncated: int = 0
    #: when there are no candidates: "refusal" | "content_filter" | "empty" | "truncated" | "unparseable"
    problem: str | None = None


def clean_value(text: str) -> str:
    """Strip whitespace and markdown emphasis that wraps the whole value (``**Text**`` -> ``Text``)."""
    text = text.strip()
    while True:
        match = _EMPHASIS.match(text)
        if not match or not match.group("body").strip():
            return text
        text = match.group("body").strip()


def normalize_input(text: str) -> str:
    """``<noinput>``, ``N/A``, ``None`` and friends mean "this task has no input": return ``""``."""
    text = clean_value(text)
    return "" if _NO_INPUT.match(text) or set(text) <= set("-–—.") else text


def _diagnose(text: str, finish_reason: str, truncated: int) -> str:
    if finish_reason == "content_filter":
        return "content_filter"
    if not text.strip():
        return "empty"
    if truncated:
        return "truncated"
    if _REFUSAL.search(text[:400]):
        return "refusal"
    return "unparseable"


def _finish(items: list[dict[str, object]], text: str, finish_reason: str) -> ParseResult:
    truncated = 0
    if finish_reason == "length" and items:
        items = items[:-1]  # the last item stopped mid-way: its output (at least) is cut off
        truncated = 1
    candidates = [
        Candidate(
            index=int(item["index"]),  # type: ignore[arg-type]
            instruction=re.sub(r"\s+", " ", clean_value(str(item.get("instruction", "")))),
            input=normalize_input(str(item.get("input", ""))),
            output=clean_value(str(item.get("output", ""))),
        )
        for item in items
    ]
    result = ParseResult(candidates=candidates, truncated=truncated)
    if not candidates:
        result.problem = _diagnose(text, finish_reason, truncated)
    return result


def parse_numbered(text: str | None, finish_reason: str = "stop", *, first_index: int = 1) -> ParseResult:
    """Parse ``N. Instruction: … / N. Input: … / N. Output: …`` items, in order.

    An ``Instruction`` marker opens a new item; ``Input``/``Output`` markers fill the open one;
    lines without a marker continue the field above. Items whose ``Output`` is missing are kept
    with an empty output, so the ``empty_output`` filter records them. ``first_index`` numbers items
    whose marker carries no number.
    """
    text = text or ""
    items: list[dict[str, object]] = []
    current: dict[str, object] | None = None
    lines_of: dict[str, list[str]] = {}
    open_field: str | None = None
    next_index = first_index
    for line in text.splitlines():
        match = _MARKER.match(line)
        name = match.group("field").lower() if match else None
        numbered = bool(match and match.group("num"))
        if match and not numbered:
            # An unnumbered marker is only trusted where a marker is expected, so that an
            # output saying "Input: 5 mg" does not split the item.
            if name == "instruction":
                accept = current is None or "output" in lines_of
            else:
                later = FIELDS[FIELDS.index(name) + 1 :]  # fields come in order: no Input after Output
                accept = (
                    current is not None and name not in lines_of and not any(f in lines_of for f in later)
                )
            match = match if accept else None
        if match and name == "instruction":
            if current is not None:
                items.append({**current, **{key: "\n".join(value) for key, value in lines_of.items()}})
            number = int(match.group("num")) if numbered else next_index
            next_index = number + 1
            current, lines_of = {"index": number}, {"instruction": [match.group("rest")]}
            open_field = "instruction"
        elif match and current is not None and name not in lines_of:
            lines_of[name] = [match.group("rest")]  # type: ignore[index]
            open_field = name
        elif match and numbered and current is not None:
            # "3. Input:" after item 2's input and output (SmolLM2 drops an Instruction line): a
            # new item without an instruction, so it does not run into the previous output.
            items.append({**current, **{key: "\n".join(value) for key, value in lines_of.items()}})
            next_index = int(match.group("num")) + 1
            current, lines_of = {"index": next_index - 1}, {name: [match.group("rest")]}  # type: ignore[dict-item]
            open_field = name
        elif _SEPARATOR.match(line):
            open_field = None
        elif open_field is not None:
            lines_of[open_field].append(line)
    if current is not None:
        items.append({**current, **{key: "\n".join(value) for key, value in lines_of.items()}})
    return _finish(items, text, finish_reason)


def _json_items(text: str) -> list[object]:
    """The task objects of a JSON reply; complete objects of a truncated reply are salvaged."""
    stripped = text.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*(?:```)?$", stripped, re.DOTALL)
    if fence:
        stripped = fence.group(1)
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("tasks"), list):
            return data["tasks"]
        lists = [value for value in data.values() if isinstance(value, list)]
        return lists[0] if len(lists) == 1 else []
    # Truncated or malformed: decode complete objects one by one after the opening bracket.
    start = stripped.find("[")
    if start < 0:
        return []
    decoder, position, salvaged = json.JSONDecoder(), start + 1, []
    while position < len(stripped):
        while position < len(stripped) and stripped[position] in " \t\r\n,":
            position += 1
        try:
            item, position = decoder.raw_decode(stripped, position)
        except json.JSONDecodeError:
            break
        salvaged.append(item)
    salvaged.append({"_truncated": True})  # stands for the cut-off object
    return salvaged


def looks_like_json(text: str | None) -> bool:
    """Whether a reply is (or starts as) JSON, fenced or not: a JSON-mode reply that is not was
    written by a server that ignores ``response_format``."""
    stripped = (text or "").lstrip()
    fence = re.match(r"^```(?:json)?\s*", stripped)
    if fence:
        stripped = stripped[fence.end() :]
    return stripped[:1] in ("{", "[")


def parse_json(text: str | None, finish_reason: str = "stop", *, first_index: int = 1) -> ParseResult:
    """Parse a JSON-mode reply (``{"tasks": [{"instruction", "input", "output"}, ...]}``).

    Same result type and the same truncation rule as :func:`parse_numbered`: with finish_reason
    "length" the last (cut-off) task is dropped and the complete ones are kept.
    """
    text = text or ""
    raw = _json_items(text)
    truncated_marker = bool(raw) and isinstance(raw[-1], dict) and raw[-1].get("_truncated") is True
    if truncated_marker and finish_reason != "length":
        raw = raw[:-1]
        finish_reason = "length"  # malformed JSON: the last object could not be read either
    items: list[dict[str, object]] = []
    for position, entry in enumerate(raw):
        if not isinstance(entry, dict):
            continue
        lowered = {str(key).lower(): value for key, value in entry.items()}
        if "instruction" not in lowered and not lowered.get("_truncated"):
            continue
        item: dict[str, object] = {"index": first_index + position}
        for key in FIELDS:
            value = lowered.get(key)
            item[key] = "" if value is None else str(value)
        items.append(item)
    return _finish(items, text, finish_reason)


def parse_reply(
    text: str | None, finish_reason: str = "stop", *, mode: str = "numbered", first_index: int = 1
) -> ParseResult:
    """Dispatch on ``mode`` ("numbered" or "json")."""
    if mode == "json":
        return parse_json(text, finish_reason, first_index=first_index)
    if mode == "numbered":
        return parse_numbered(text, finish_reason, first_index=first_index)
    raise ValueError(f"unknown parse mode {mode!r}; expected 'numbered' or 'json'")


class ReplyReader:
    """Reads a session's generation replies in its format: numbered, or JSON in JSON mode.

    A JSON-mode reply that is not JSON means the server ignores ``response_format``
    (``transformers serve`` does): say so once, read it as a numbered list, and ask for that from
    now on (``asks_json`` turns False; run.json records ``json_mode_ignored``).
    """

    def __init__(self, json_mode: bool, first_index: int) -> None:
        self.json_mode, self.first_index = json_mode, first_index
        self.json_ignored = False

    @property
    def asks_json(self) -> bool:
        return self.json_mode and not self.json_ignored

    def read(self, text: str | None, finish_reason: str | None, request_id: str) -> tuple[str, ParseResult]:
        """(the mode it was read in, the parsed reply)."""
        mode = "json" if self.json_mode else "numbered"
        result = parse_reply(text, finish_reason, mode=mode, first_index=self.first_index)
        if mode == "json" and not result.candidates and not looks_like_json(text):
            if not self.json_ignored:
                self.json_ignored = True
                logger.warning(
                    "--json-mode: reply %s is not JSON (the server ignores response_format); "
                    "reading replies as numbered lists and asking for that format from now on",
                    request_id,
                )
            mode, result = (
                "numbered",
                parse_reply(text, finish_reason, mode="numbered", first_index=self.first_index),
            )
        return mode, result
