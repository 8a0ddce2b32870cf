"""The scoring protocols of multiple choice, and ``--protocol`` as the user writes it.

Why a list and not one value: the gap between log-likelihood and chain-of-thought scoring of the
same model on the same items is itself a finding (lm-eval's zero-shot CoT variants: MedGemma-4b
55.2 vs 65.5 on MedQA), and it is only a fair gap when both come from one call: the same items,
model load, adapters and data files. ``--protocol loglik,cot`` runs both; ``all`` runs every
protocol the backend offers. Light on imports: the config validates with it before any model loads.
"""

from __future__ import annotations

from collections.abc import Sequence

from bioinstruct.errors import ConfigError, did_you_mean

PROTOCOLS = ("loglik", "generate", "cot")
ALL = "all"

#: name -> (the word tables and results.json show, how a prediction is scored)
PROTOCOL_WORDS = {
    "loglik": (
        "loglikelihood",
        "argmax over the options of the summed log-probability of each option's label "
        "after the prompt (lm-evaluation-harness 'acc')",
    ),
    "generate": (
        "generative",
        "greedy generation parsed to a choice (letter, option text or label word); "
        "unparseable answers (none named, several options listed, the question repeated) count as "
        "wrong; where the letter and the quoted option text disagree the letter wins and the item "
        "is flagged (letter_text_conflicts)",
    ),
    "cot": (
        "chain-of-thought",
        "zero-shot chain of thought: the model reasons, then its final answer is read by the stated "
        "extraction rule (cot.extraction_rule); unparseable answers count as wrong",
    ),
}
#: The word back to the name (results.json files written before results carried the name).
NAME_OF_WORD = {word: name for name, (word, _) in PROTOCOL_WORDS.items()}


def parse_protocols(spec: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"loglik,cot"`` -> ``("loglik", "cot")``; ``"all"`` -> ``("all",)``; None stays None (the default).

    An unknown name is one :class:`ConfigError` line with the bad value and a "did you mean".
    """
    if spec is None:
        return None
    parts = spec.split(",") if isinstance(spec, str) else [str(part) for part in spec]
    names = [part.strip().lower() for part in parts if part.strip()]
    if not names:
        raise ConfigError(f"--protocol {spec!r} names no protocol; expected {_expected()}")
    given = spec if isinstance(spec, str) else ",".join(parts)
    for name in names:
        if name not in (*PROTOCOLS, ALL):
            raise ConfigError(
                f"unknown protocol {name!r} in --protocol {given!r}; expected {_expected()}"
                + did_you_mean(name, [*PROTOCOLS, ALL])
            )
    if ALL in names:
        return (ALL,)
    return tuple(dict.fromkeys(names))


def expand(protocols: tuple[str, ...], supports_loglikelihood: bool) -> tuple[str, ...]:
    """``all`` as the protocols this backend offers (no log-likelihood over a chat endpoint)."""
    if protocols != (ALL,):
        return protocols
    return tuple(p for p in PROTOCOLS if p != "loglik" or supports_loglikelihood)


def _expected() -> str:
    return f"{', '.join(PROTOCOLS)}, a comma list of them (loglik,cot) or {ALL}"


__all__ = ["ALL", "NAME_OF_WORD", "PROTOCOLS", "PROTOCOL_WORDS", "expand", "parse_protocols"]
