"""A screen for HIPAA Safe Harbor patient identifiers in generated instruction rows.

Why: a teacher asked for clinical vignettes invents discharge summaries with dates of birth, phone
numbers and record numbers; a released data set must not carry one. The screen finds them in every
candidate (about 1-2 ms for 100 words); the caller flags, drops or redacts the row.

Libraries (evaluated offline): phonenumberslite (libphonenumber's PhoneNumberMatcher, 5 MB) finds
phone/fax numbers, ``ipaddress`` validates IPs, nicknames' 2,100 given names confirm a name after
"Patient" or a relative. Rejected: presidio-analyzer (390 MB with spaCy, 20 ms a candidate, no names
without a downloaded spaCy model, tldextract fetches from GitHub), scrubadub (410 MB, last release
2023, names need TextBlob/spaCy data), philter-lite/philter-ucsf (need NLTK tagger data from the
NLTK downloader), names-dataset (2 GB of memory, 16 s to load). The rest are hand-written context
regexes, as no offline library ties a date, ZIP, age or name to a patient (event word, state, title).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from bioinstruct.errors import ConfigError, did_you_mean

KINDS: tuple[str, ...] = (
    "date", "phone", "email", "ssn", "record_number", "url", "ip", "zip", "age_over_89", "name",
)  # fmt: skip
ACTIONS = ("flag", "drop", "redact")
MAX_REASON = 120


@dataclass(frozen=True)
class Identifier:
    """One identifier found: its kind, the field it is in and its character span there."""

    kind: str
    field: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Span = tuple[int, int]
Finder = Callable[[str], Iterator[Span]]

# -- dates: a full numeric date always; a month-name or day/month date only near a patient event --
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_YEAR = r"(?:19|20)\d\d"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_NUMERIC_DATE = re.compile(
    rf"(?<![\w/.-])(?:(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})/(?:{_YEAR}|\d\d)|(?P<c>\d{{1,2}})([-.])(?P<d>\d{{1,2}})\4{_YEAR}"
    rf"|{_YEAR}-(?P<m>0?[1-9]|1[0-2])-(?:[12]\d|3[01]|0?[1-9]))(?![\w/-]|\.\d)"
)
_STRONG = r"DOB|D\.O\.B\.?|date\s+of\s+(?:birth|death|service)|DOS|born|birth\s*date|birthday|(?:re)?admitted"
_STRONG += r"|admit|discharged|died|deceased|expired|passed\s+away|transferred|hospitali[sz]ed|underwent"
# a day and month with no year ("1/17") only right after the event; "1/3 of those admitted" is a fraction
_CUED_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?|{_MONTH},?\s+{_YEAR})\b"
    rf"(?!,?\s*\d)|(?i:\b(?:{_STRONG})(?:\s+on)?\b):?\s+(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})(?![\w/-]|\.\d)"
)
_EVENT = re.compile(rf"(?i:\b(?:{_STRONG})\b)")
# "presented on March 3" is a patient's only when a person is near ("she presented", not "results were")
_WEAK_EVENT = re.compile(
    r"(?i:\b(?:presented|seen|visit(?:ed)?|surgery|delivered|diagnosed|appointment|admission|discharge|death|birth)\b)"
)
_PERSON = re.compile(
    r"(?i:\b(?:patient|pt|he|she|his|her|him|man|woman|boy|girl|infant|mother|father|son|daughter)\b)|\bM(?:r|rs|s)\b"
)
_SENTENCE_END = re.compile(r"[.!?;]\s+(?=[A-Z(])|\n")


def _month_day(a: str, b: str) -> bool:  # 03/14 and 14/03 both are
    x, y = int(a), int(b)
    return (1 <= x <= 12 and 1 <= y <= 31) or (1 <= y <= 12 and 1 <= x <= 31)


def _find_dates(text: str) -> Iterator[Span]:
    for m in _NUMERIC_DATE.finditer(text):
        a, b = (m["a"], m["b"]) if m["a"] else (m["c"], m["d"])
        if a is None or _month_day(a, b):
            yield m.span()
    for m in _CUED_DATE.finditer(text):
        if m["a"]:
            if _month_day(m["a"], m["b"]):
                yield m.span("a")[0], m.end()
            continue
        before = _SENTENCE_END.split(text[max(0, m.start() - 80) : m.start()])[-1]
        after = _SENTENCE_END.split(text[m.end() : m.end() + 50])[0]
        if _EVENT.search(near := f"{before} {after}") or (_WEAK_EVENT.search(near) and _PERSON.search(near)):
            yield m.span()


# -- the other kinds; a pattern's group "v", where it has one, is the identifier itself --
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_URL = re.compile(r"(?i:\b(?:https?://|ftp://|www\.))[^\s<>\"'\]]*[^\s<>\"'\].,;:!?)]")
_IP = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)|(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"
)
_NUMBERED = re.compile(r"(?i:section|chapter|table|figure|fig\.|step|version|item|rule|criterion|§)\s*$")
_SSN = re.compile(
    r"(?<![\w-])(?!000|666|9)\d{3}-(?!00)\d\d-(?!0000)\d{4}(?![\w-])"
    r"|(?i:\b(?:SSN|SS\#|social\s+security(?:\s+(?:number|no\.|\#))?))\s*(?:is\s+|[:#]\s*)?(?P<v>\d{3}[ -]?\d\d[ -]?\d{4})\b"
)
_RECORD = re.compile(
    r"(?i:\bMRN\b|\bMR\#|\b(?:medical\s+record|record|chart|acc(?:oun)?t\.?|health\s+plan(?:\s+(?:beneficiary|member))?"
    r"|member|beneficiary|subscriber|policy|insurance|medicare|medicaid|patient|encounter)\s*(?:number|no\.|num\.?|ID\b|\#))"
    r"\s*(?:is\s+|[:#=]\s*)?(?P<v>(?:[A-Z]{1,3}-?)?\d[\dA-Z-]{2,}[\dA-Z])\b"
)
_STATE = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK"
    "|OR|PA|PR|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut"
    "|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland"
    "|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|Ohio|Oklahoma|Oregon"
    "|Pennsylvania|Tennessee|Texas|Utah|Vermont|Virginia|Washington|Wisconsin|Wyoming"
    r"|New\s+(?:Hampshire|Jersey|Mexico|York)|(?:North|South)\s+(?:Carolina|Dakota)|Rhode\s+Island|West\s+Virginia"
)
_ZIP = re.compile(
    rf"(?:\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*,\s*(?:{_STATE})\.?,?\s+|(?i:\bzip(?:\s*code)?|\bpostal\s+code)\s*(?:is\s+|[:#]\s*)?)"
    r"(?P<v>\d{5}(?:-\d{4})?)(?![\w-]|[.,]\d)"
)
_OLD = r"(?:9\d|1[01]\d|(?i:ninety|one[- ]hundred)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
_AGE = re.compile(
    rf"\b{_OLD}(?:\s*|-)(?:years?|yrs?|y)(?:\s*|-)old\b|\b{_OLD}\s*(?:y/o|yo)\b|\b{_OLD}\s+years\s+of\s+age\b"
    rf"|(?i:\bage[ds]?)\s*(?:of\s+|:\s*)?{_OLD}\b(?!\s*(?:[-–+%]|(?:years?\s+)?(?:or|and)\s+(?:older|over|above)"
    r"|(?:to|through)\s+\d|(?i:days?|weeks?|months?|mo)\b))"
)
# "≥90 years of age", "few reach 90 years old": a threshold, not a person's age
_COMPARED = re.compile(r"(?i:[≥>≤<]|over|than|above|under|least|from|between|reach\w*|to|until|past)\s*$")

# -- names: after a title, a relative, "name is", or (gated by the given names) a patient cue --
# a capitalised word (Smith, O'Brien, McDonald, Garcia-Lopez), without a possessive 's
_TOKEN = r"(?=[A-Z][\w'’-]*[a-z])[A-Z][a-z]*(?:['’-]?[A-Z][a-z]+|-[a-z]+)*"
_NAME = rf"(?P<v>(?:[A-Z]\.[ \t]+)?{_TOKEN}(?:[ \t]+(?:[A-Z]\.[ \t]+)?{_TOKEN}){{0,2}})"  # one line
_TITLED = re.compile(rf"\b(?:Mr|Mrs|Ms|Mx|Miss|Mister)\.?\s+{_NAME}")
_NAMED = re.compile(
    rf"(?:(?i:\b(?:his|her|my|their|patient(?:['’]?s)?)\s+(?:full\s+)?name)\s*(?:is\s+|:\s*)|(?m:^)Name:\s*){_NAME}"
)
_RELATIVE = re.compile(
    r"(?i:\b(?P<cue>daughter|son|wife|husband|mother|father|sister|brother|spouse|niece|nephew|caregiver|guardian"
    rf"|grand(?:son|daughter|mother|father)|fianc[ée]e?|patient|pt\.?)(?:-in-law)?(?:['’]s\s+name\s+is)?),?\s+{_NAME}"
)
# "the patient Carlos Ruiz was", "the patient, Aisha Khan," but not "give the patient Written Instructions"
_ACTS = re.compile(
    r",|\s+(?:was|is|has|had|reported|reports|presented|presents|returned|denies|denied|complained|complains|states"
    r"|stated|said|says|arrived|underwent|developed|received|came|comes|will|can|lives|brought|called)\b"
)
# "Sister Mary Joseph nodule", "father Alzheimer's": an eponym, not a relative's name
_EPONYM = re.compile(
    r"(?i:(?:['’]s)?\s+(?:nodule|sign|syndrome|disease|test|reflex|score|scale|criteria|classification|maneuver|procedure"
    r"|operation|phenomenon|lymphoma|palsy|triad|law|rule|type|stage|grade)\b)"
)


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """The lower-cased English given names and nicknames of the ``nicknames`` package."""
    import nicknames

    return frozenset(name for row in nicknames.name_triplets() for name in (row.name1, row.name2))


def _find_names(text: str) -> Iterator[Span]:
    for m in (*_TITLED.finditer(text), *_NAMED.finditer(text)):
        yield m.span("v")
    names = given_names()
    for m in _RELATIVE.finditer(text):
        words, cue, end = m["v"].split(), m["cue"], m.end("v")
        # a given name; after a relative two words or one that acts ("daughter Fatima will"); after a
        # lower-case "patient" two that act: "Patient Health Questionnaire", "mother Type 2" are no names
        acts = _ACTS.match(text, end)
        ok = (len(words) >= 2 or acts) if cue[0] not in "Pp" else (cue[0] == "p" and len(words) >= 2 and acts)
        if (words[0].lower() in names or ok) and not _EPONYM.match(text, end):
            yield m.span("v")


_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|x|extension)\s*\d+$")
# only a run of digits a phone number could be (10+, or 7+ after "+") is handed to the (slower) matcher
_PHONE_HINT = re.compile(r"\+\d(?:[\s().\-]{0,3}\d){6,}|\(?\d(?:[\s().\-]{0,3}\d){9,}")


def _find_phones(text: str) -> Iterator[Span]:
    import phonenumbers  # imported once, by IdentifierScreen()

    valid = phonenumbers.Leniency.VALID
    for hint in _PHONE_HINT.finditer(text):
        lo = max(0, hint.start() - 12)
        for m in phonenumbers.PhoneNumberMatcher(text[lo : hint.end() + 12], "US", leniency=valid):
            # grouped as a phone number is (415-555-0132, 1 800 222 1222), not as a drug code (50090-2875-0)
            groups = [len(g) for g in re.findall(r"\d+", _EXTENSION.sub("", m.raw_string))]
            if m.raw_string.startswith("+") or groups in ([10], [11], [3, 3, 4], [1, 3, 3, 4], [3, 7]):
                yield lo + m.start, lo + m.end


def _is_ip(text: str) -> bool:
    try:
        return len(text) >= 7 and bool(ipaddress.ip_address(text))
    except ValueError:
        return False


def _pattern(
    regex: re.Pattern[str], ok: Callable[[str], bool] | None = None, unless: re.Pattern[str] | None = None
) -> Finder:
    """Each match (its group ``v`` where it has one) that ``ok`` accepts and ``unless`` does not precede."""

    def find(text: str) -> Iterator[Span]:
        for m in regex.finditer(text):
            group = "v" if "v" in regex.groupindex and m["v"] else 0
            if unless and unless.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            if ok is None or ok(m[group]):
                yield m.span(group)

    return find


_FINDERS: dict[str, Finder] = {
    "date": _find_dates,
    "phone": _find_phones,
    "email": _pattern(_EMAIL),
    "ssn": _pattern(_SSN),
    "record_number": _pattern(_RECORD, ok=lambda v: sum(c.isdigit() for c in v) >= 4),
    "url": _pattern(_URL),
    "ip": _pattern(_IP, ok=_is_ip, unless=_NUMBERED),
    "zip": _pattern(_ZIP),
    "age_over_89": _pattern(_AGE, unless=_COMPARED),
    "name": _find_names,
}


def _choice(what: str, value: object, choices: Sequence[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise ConfigError(
        f"unknown identifier {what} {value!r}: expected one of {', '.join(choices)}{did_you_mean(str(value), choices)}"
    )


class IdentifierScreen:
    """Finds patient identifiers in a candidate's fields; ``action`` says what the caller does with them."""

    name = "patient_identifiers"

    def __init__(self, action: str = "flag", kinds: Iterable[str] | None = None) -> None:
        self.action = _choice("action", action, ACTIONS)
        if isinstance(kinds, str):
            kinds = [kind.strip() for kind in kinds.split(",") if kind.strip()]
        kinds = KINDS if kinds is None else kinds
        self.kinds = tuple(dict.fromkeys(_choice("kind", kind, KINDS) for kind in kinds))
        self._finders = [(kind, _FINDERS[kind]) for kind in KINDS if kind in self.kinds]
        if "phone" in self.kinds:
            import phonenumbers  # noqa: F401  (50 ms, once)
        if "name" in self.kinds:
            given_names()

    def find(self, text: str, field: str = "output") -> list[Identifier]:
        """The identifiers in ``text``, by start; of two that overlap the longer one is kept."""
        if not text:
            return []
        spans = {(s, e, kind) for kind, finder in self._finders for s, e in finder(text) if e > s}
        kept: list[tuple[int, int, str]] = []
        for start, end, kind in sorted(spans, key=lambda s: (s[0] - s[1], KINDS.index(s[2]), s[0])):
            if all(end <= s or start >= e for s, e, _ in kept):
                kept.append((start, end, kind))
        return [Identifier(kind, field, s, e, text[s:e]) for s, e, kind in sorted(kept)]

    def screen(self, fields: Mapping[str, str]) -> list[Identifier]:
        """The identifiers in every field given (instruction, input, output, ...), field by field."""
        return [found for field, text in fields.items() for found in self.find(text or "", field)]

    def redact(self, fields: Mapping[str, str], found: Sequence[Identifier]) -> dict[str, str]:
        """A copy of ``fields`` with each identifier's span replaced by ``[KIND]`` (``[PHONE]``)."""
        redacted = dict(fields)
        for field in redacted:
            text = redacted[field]
            for f in sorted((f for f in found if f.field == field), key=lambda f: f.start, reverse=True):
                if text[f.start : f.end] != f.text:
                    raise ValueError(f"stale identifier: {field}[{f.start}:{f.end}] is not {f.text!r}")
                text = f"{text[: f.start]}[{f.kind.upper()}]{text[f.end :]}"
            redacted[field] = text
        return redacted

    def redacted_spans(self, found: Sequence[Identifier]) -> list[Identifier]:
        """Where each placeholder stands in the text :meth:`redact` returns (``text`` is ``[KIND]``):
        the row's ``identifiers`` column then points into the text it is stored with."""
        placed, shift = [], dict.fromkeys((f.field for f in found), 0)
        for f in sorted(found, key=lambda f: (f.field, f.start)):
            mark = f"[{f.kind.upper()}]"
            start = f.start + shift[f.field]
            placed.append(Identifier(f.kind, f.field, start, start + len(mark), mark))
            shift[f.field] += len(mark) - (f.end - f.start)
        return placed

    def reason(self, found: Sequence[Identifier]) -> str:
        """One short line for the journal: ``patient identifiers: phone 1, email 1 (in output)``."""
        counts = Counter(f.kind for f in found)
        fields = dict.fromkeys(f.field for f in found)
        kinds = ", ".join(f"{kind} {counts[kind]}" for kind in KINDS if counts[kind])
        line = f"patient identifiers: {kinds or 'none'} (in {', '.join(fields) or 'nothing'})"
        return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."
