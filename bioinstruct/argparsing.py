"""argparse with one-line errors: the bad flag, the bad value, what is expected, "did you mean".

Why: argparse answers a mistake with the whole usage block (17 lines for ``generate``, 161 for
``train``) before the one line that matters, checks required flags before unknown ones (so
``--num-instrucions 5`` is reported as "--num-instructions is required"), and never suggests the
flag or choice that was meant. :class:`ArgumentParser` raises :class:`~bioinstruct.errors.UsageError`
instead; the CLI prints it as one line and exits 2. Sub-parsers inherit the class.

A stage whose options are a dataclass (``generate``, ``evaluate``) gets its flags from the fields
(:mod:`bioinstruct.config_files`); this parser then reads ``--config`` under the flags.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from bioinstruct.errors import ConfigError, UsageError, did_you_mean

logger = logging.getLogger(__name__)

#: ``--model`` names that are neither a folder nor a Hub id (bioinstruct.models.resolve_model).
MODEL_ALIASES = ("smollm2", "small-instruct")

_INVALID_VALUE = re.compile(r"^argument (?P<flag>\S+): invalid (?P<type>\w+) value: (?P<value>.+)$")
_INVALID_CHOICE = re.compile(
    r"^argument (?P<flag>\S+): invalid choice: (?P<value>'.*?'|\S+) \(choose from (?P<choices>.*)\)$"
)
_TYPE_WORDS = {"int": "an integer", "float": "a float", "string_to_bool": "true or false"}


def _choices(text: str) -> list[str]:
    return [choice.strip().strip("'\"") for choice in text.split(",") if choice.strip()]


def explain(message: str, known_options: Sequence[str] = ()) -> str:
    """argparse's error message, rephrased as "FLAG: VALUE is not EXPECTED" with a suggestion."""
    flag_part = lambda flag: flag.split("/")[0]  # noqa: E731 - "--learning_rate/--learning-rate"
    if match := _INVALID_CHOICE.match(message):
        value = match["value"].strip("'\"")
        choices = _choices(match["choices"])
        return (
            f"{flag_part(match['flag'])}: {value!r} is not one of {', '.join(choices)}"
            f"{did_you_mean(value, choices)}"
        )
    if match := _INVALID_VALUE.match(message):
        expected = _TYPE_WORDS.get(match["type"], f"a valid {match['type']}")
        return f"{flag_part(match['flag'])}: {match['value']} is not {expected}"
    if message.startswith("unrecognized arguments: "):
        unknown = message.removeprefix("unrecognized arguments: ").split()
        flags = [token.split("=", 1)[0] for token in unknown if token.startswith("-")]
        if flags:
            return unknown_option(flags[0], known_options)
        return f"unexpected argument {unknown[0]!r}"
    return message


def unknown_option(flag: str, known_options: Sequence[str]) -> str:
    hint = did_you_mean(flag, known_options)
    return f"unknown option {flag}" + (hint or "")


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are :class:`UsageError` (one line, exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{explain(message, self._long_options())} (see `{self.prog} --help`)", self.prog)

    def _long_options(self) -> list[str]:
        return [option for option in self._option_string_actions if option.startswith("--")]

    #: ``(parser, args, namespace) -> (namespace, extras)`` for a parser whose flags are a dataclass's
    #: fields (set by :func:`bioinstruct.config_files.add_config_arguments`); None: plain argparse.
    config_parse: Any = None

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        if self.config_parse is not None:
            return self.config_parse(self, list(sys.argv[1:] if args is None else args), namespace)
        # A stage's own flags are checked first, so a misspelled flag is named as such and not as
        # the required flag it was meant to be. A parser with sub-commands leaves it to them.
        if args is not None and self._subparsers is None:
            self._check_options(list(args))
        return super().parse_known_args(args, namespace)

    def _check_options(self, args: list[str]) -> None:
        long_options = self._long_options()
        for token in args:
            if token == "--":
                break
            if not token.startswith("--") or len(token) == 2:
                continue
            flag = token.split("=", 1)[0]
            if flag in self._option_string_actions:
                continue
            if self.allow_abbrev and any(option.startswith(flag) for option in long_options):
                continue  # an abbreviation: argparse resolves it (or says it is ambiguous)
            raise UsageError(f"{unknown_option(flag, long_options)} (see `{self.prog} --help`)", self.prog)


def check_model_argument(value: str, flag: str = "--model") -> None:
    """Refuse, before minutes of loading data, a model that is no local folder and cannot be a Hub
    id (``./nomodel``, ``a/b/c``): transformers would say "Repo id must be in the form ...".

    A well-formed Hub id that is not cached still goes through (the load says whether it is reachable).
    """
    if not value or value in MODEL_ALIASES or Path(value).expanduser().exists():
        return
    if value.lower().endswith(".gguf"):
        raise ConfigError(f"{flag} {value!r}: no such .gguf file")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    looks_local = value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1
    if not looks_local:
        try:
            validate_repo_id(value)
        except HFValidationError:
            looks_local = True
    if looks_local:
        raise ConfigError(
            f"{flag} {value!r}: no such folder, and not a Hub id (a local folder with config.json, or "
            "namespace/name such as HuggingFaceTB/SmolLM2-135M-Instruct)"
        )


__all__ = ["MODEL_ALIASES", "ArgumentParser", "check_model_argument", "explain", "unknown_option"]
