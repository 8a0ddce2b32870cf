"""Chain of thought (``--protocol cot``): the prompt, the one extraction rule, self-consistency voting.

Why a protocol of its own: log-likelihood over the option letters measures what a model puts first
after "Answer:", which under-rates chat and reasoning models; they answer better after reasoning
(lm-evaluation-harness's zero-shot CoT variants: MedGemma-4b 55.2 log-likelihood vs 65.5 CoT on
MedQA). A CoT number is only comparable when the prompt, the budget and the way an answer is read out
are stated, so the prompt is data (``prompts/eval_prompts.yaml``, key ``cot``), the reading is ONE
rule (:data:`EXTRACTION_RULE`, implemented once in :func:`extract_answer` and written verbatim into
every CoT result's protocol), and a reply the rule cannot read is unparseable: counted wrong and
reported, never guessed. Unlike :mod:`.answer_parsing` (short answers: the first thing said), a
reasoned reply mentions several options on the way, so only its final statement counts.

Self-consistency (Wang et al., 2023): ``samples`` > 1 draws that many replies at ``temperature``
and takes the majority of the parseable answers (:data:`VOTE_RULE`); the share of samples that
agree with the vote is recorded per item and on average.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bioinstruct.benchmarks import Item
from bioinstruct.errors import ConfigError, did_you_mean
from bioinstruct.evaluation.prompting import CHAT, PLAIN, Prompt, eval_prompts, render, template_names

#: The extraction rule, recorded verbatim in the protocol of every CoT result.
EXTRACTION_RULE = (
    'the last "Answer: X", "answer is X" or "\\boxed{X}" in the reply, X one of the item\'s labels in '
    'any case, bare or decorated ("(B)", "[B]", "**B**", "B.", "B) text", "option B"); a lowercase '
    'single letter only when brackets or punctuation set it apart, so "the answer is a ..." names no '
    'letter; with no such statement, a last line that is only a label ("**B**", "(B)"); a final '
    '"B or C" names no answer. Anything else is unparseable and counted wrong, never guessed.'
)
#: How k self-consistency samples become one answer (recorded with k and the temperature).
VOTE_RULE = (
    "majority vote over the parseable samples; a tie goes to the answer that comes first in sample "
    "order (as lm-eval's majority_vote); no parseable sample: unparseable"
)
AUTO = "auto"

_DECOR = "\\s*_`\"'\u201c\u201d\u2018\u2019"  # markdown emphasis, code ticks, quotes, spaces
_OPENERS = "([{"
_CLOSERS = ")]}"


@dataclass(frozen=True)
class CotSettings:
    """The CoT protocol's settings (``--cot-*``); each goes into the cache key and the protocol.

    ``template``: ``auto`` uses the model's chat template where it has one (chat and instruct models
    answer in their own format; an OpenAI-compatible endpoint always gets chat messages), else the
    run's ``--template``; or any template name.
    """

    max_new_tokens: int = 512
    samples: int = 1
    temperature: float = 0.7
    template: str = AUTO

    def __post_init__(self) -> None:
        check_settings(self.max_new_tokens, self.samples, self.temperature, self.template)

    @property
    def sampling(self) -> bool:
        return self.samples > 1

    def cache_identity(self, seed: int) -> tuple[Any, ...]:
        """What besides the prompt decides the raw replies: greedy, or k samples at T with a seed."""
        return ("greedy",) if not self.sampling else ("sample", self.samples, self.temperature, seed)

    def record(self, seed: int, template: str, chat_template: str | None, stop: Sequence[str]) -> dict:
        """The ``cot`` entry of a result's protocol."""
        return {
            "instruction": eval_prompts()["cot"]["instruction"],
            "extraction_rule": EXTRACTION_RULE,
            "unparseable": "counted wrong",
            "max_new_tokens": self.max_new_tokens,
            "samples": self.samples,
            "decoding": "greedy" if not self.sampling else "temperature sampling (top-p 1, no top-k)",
            "temperature": self.temperature if self.sampling else None,
            "sampling_seed": seed if self.sampling else None,
            "vote": VOTE_RULE if self.sampling else None,
            "template_setting": self.template,
            "template": template,
            "chat_template": chat_template,
            "stop": list(stop),
        }


def check_settings(max_new_tokens: int, samples: int, temperature: float, template: str) -> None:
    """One :class:`ConfigError` line for a CoT setting that cannot work (bad value named)."""
    if max_new_tokens < 1:
        raise ConfigError(
            f"cot_max_new_tokens must be >= 1 (a reasoning budget of ~512), got {max_new_tokens}"
        )
    if samples < 1:
        raise ConfigError(
            f"cot_samples must be >= 1 (1: one greedy answer; k > 1: k sampled answers and a majority "
            f"vote), got {samples}"
        )
    if temperature < 0:
        raise ConfigError(f"cot_temperature must be >= 0, got {temperature}")
    if samples > 1 and temperature == 0:
        raise ConfigError(
            f"cot_samples {samples} with cot_temperature 0 would draw the same greedy answer {samples} "
            "times; set cot_temperature > 0 (e.g. 0.7) or cot_samples 1"
        )
    choices = [AUTO, *template_names()]
    if template not in choices:
        raise ConfigError(
            f"unknown cot_template {template!r}; expected one of {', '.join(choices)}"
            + did_you_mean(template, choices)
        )


# -- the prompt --------------------------------------------------------------------------------------
def resolve_template(setting: str, run_template: str, backend: Any) -> str:
    """The template CoT prompts use: ``auto`` -> ``chat`` for a backend with a chat template."""
    if setting != AUTO:
        return setting
    return CHAT if getattr(backend, "has_chat_template", False) else run_template


def chat_template_name(backend: Any, template: str) -> str | None:
    """Which chat template renders ``template`` prompts: None for a text template."""
    if template != CHAT:
        return None
    named = getattr(backend, "chat_template_name", None)
    return (named() if callable(named) else None) or "the backend's chat template"


def label_words(labels: Sequence[str]) -> str:
    """``A, B, C or D``; ``yes, no or maybe``."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def _fill(template: str, values: dict[str, str]) -> str:
    """``{name}`` replaced once per field (braces in benchmark text stay as they are)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def cot_instruction(item: Item) -> str:
    return _fill(eval_prompts()["cot"]["instruction"], {"labels": label_words(item.labels or [])})


def render_cot(item: Item, template: str) -> Prompt:
    """The CoT prompt of ``item``: its instruction and options, then the CoT instruction (zero-shot)."""
    instruction = cot_instruction(item)
    if template == PLAIN:
        text = item.preamble + _fill(
            eval_prompts()["cot"]["plain"], {"input": item.input, "cot": instruction}
        )
        return Prompt(messages=[{"role": "user", "content": text}], text=text)
    return render(replace(item, input=f"{item.input.rstrip()}\n\n{instruction}".strip()), template)


def stop_strings(template: str, opening: str) -> list[str]:
    """Where a CoT reply ends: a new question or instruction (``opening``: a text template's first words)."""
    stops = eval_prompts()["cot"]["stop"]
    if template == PLAIN:
        return list(stops["plain"])
    if template == CHAT:
        return list(stops["chat"])
    return [*stops["text_templates"], f"\n\n{opening}"]


# -- the extraction rule -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Extracted:
    """What a reasoned reply answers: ``index`` (None: unparseable, with ``reason``) and the text read."""

    index: int | None
    reason: str | None = None
    span: str | None = None


def _alternatives(labels: Sequence[str]) -> str:
    return "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))


@functools.cache
def _statements(labels: tuple[str, ...]) -> re.Pattern[str]:
    label = rf"(?P<label>{_alternatives(labels)})(?!\w)"
    opening = rf"(?P<open>[{_DECOR}\(\[]*)"
    stated = rf"\banswer\b[\s*_`]*(?:\bis\b[\s*_`]*:?|[:=])(?:[{_DECOR}]*(?:option|choice|letter)\b)?"
    boxed = r"\\boxed\{\s*(?:\\text\{)?"
    return re.compile(rf"(?:{stated}|{boxed}){opening}{label}", re.IGNORECASE)


def _set_apart(text: str, match: re.Match[str]) -> bool:
    """A lowercase letter counts only in brackets or before punctuation / the line's end."""
    if any(char in match.group("open") for char in _OPENERS):
        return True
    rest = text[match.end() :].lstrip(_DECOR.replace("\\s", "") + _CLOSERS + " \t")
    return not rest or rest[0] in ".,;:!?\n)"


def _hedged(text: str, end: int, labels: Sequence[str]) -> bool:
    """ "B or C", "B/C", "B and C" right after the answer: two options, no answer."""
    pattern = (
        rf"[{_DECOR}{re.escape(_CLOSERS)}.]*(?:or|/|and|,)[{_DECOR}\(\[]*(?:{_alternatives(labels)})(?!\w)"
    )
    return re.match(pattern, text[end:], re.IGNORECASE) is not None


def _label_index(said: str, labels: Sequence[str]) -> int | None:
    folded = [label.casefold() for label in labels]
    return folded.index(said.casefold()) if said.casefold() in folded else None


def extract_answer(text: str | None, labels: Sequence[str]) -> Extracted:
    """The answer a reasoned reply states, by :data:`EXTRACTION_RULE` (the only place it is applied)."""
    if not text or not text.strip():
        return Extracted(None, "empty")
    text = unicodedata.normalize("NFKC", text)
    letters = all(len(label) == 1 and label.isalpha() for label in labels)
    found = [
        m
        for m in _statements(tuple(labels)).finditer(text)
        if not (letters and m.group("label").islower()) or _set_apart(text, m)
    ]
    if found:
        last = found[-1]
        end = last.end()
        while end < len(text) and text[end] in _CLOSERS + "*_`\"'\u201d\u2019":
            end += 1
        span = text[last.start() : end].strip()
        if _hedged(text, last.end(), labels):
            return Extracted(None, "hedges between options", span)
        return Extracted(_label_index(last.group("label"), labels), None, span)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bare = lines[-1].strip(_DECOR.replace("\\s", "") + _OPENERS + _CLOSERS + " .:") if lines else ""
    index = _label_index(bare, labels) if bare else None
    if index is not None:
        return Extracted(index, None, lines[-1])
    return Extracted(None, 'no final "Answer: X" statement')


# -- self-consistency --------------------------------------------------------------------------------
def vote(indices: Sequence[int | None]) -> tuple[int | None, float]:
    """The majority of the parseable ``indices`` by :data:`VOTE_RULE`, and the share of all samples
    that agree with it (unparseable samples disagree)."""
    counts = Counter(index for index in indices if index is not None)
    if not counts:
        return None, 0.0
    top = max(counts.values())
    winner = next(index for index in indices if index is not None and counts[index] == top)
    return winner, top / len(indices)


@dataclass
class CotAnswer:
    """One item's CoT outcome: the answer, why none, and the fields its sample line records."""

    index: int | None
    reason: str | None
    fields: dict[str, Any]
    #: Share of the samples agreeing with the vote (None for one greedy reply).
    agreement: float | None = None
    unparseable_samples: int = 0


def read_output(output: str | list[str], labels: Sequence[str]) -> CotAnswer:
    """A greedy reply (a string) or k sampled replies (a list) -> the item's answer and sample fields."""
    if isinstance(output, str):
        got = extract_answer(output, labels)
        fields: dict[str, Any] = {"output": output, "extracted": got.span}
        return CotAnswer(got.index, got.reason, fields, None, int(got.index is None))
    each = [extract_answer(text, labels) for text in output]
    winner, agreement = vote([got.index for got in each])
    predictions = [labels[got.index] if got.index is not None else None for got in each]
    counted = Counter("(unparseable)" if p is None else p for p in predictions)
    fields = {
        "outputs": list(output),
        "sample_predictions": predictions,
        "sample_extracted": [got.span for got in each],
        "votes": dict(counted.most_common()),
        "agreement": agreement,
    }
    reason = None if winner is not None else "no sample states a parseable answer"
    return CotAnswer(winner, reason, fields, agreement, sum(p is None for p in predictions))


__all__ = [
    "AUTO",
    "EXTRACTION_RULE",
    "VOTE_RULE",
    "CotAnswer",
    "CotSettings",
    "Extracted",
    "chat_template_name",
    "check_settings",
    "cot_instruction",
    "extract_answer",
    "label_words",
    "read_output",
    "render_cot",
    "resolve_template",
    "stop_strings",
    "vote",
]
