"""One exception type for every mistake a user can fix.

Why: the CLI turns a ``BioInstructError`` into one line on stderr and a non-zero exit
code, instead of a traceback from deep inside a dependency. Library users can catch it
to tell their own mistakes (bad file, bad field, bad flag) from bugs.
"""

from __future__ import annotations

from collections.abc import Iterable


class BioInstructError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class ConfigError(BioInstructError):
    """A configuration value is missing, unknown or inconsistent."""


class DataError(BioInstructError):
    """A data file is missing, unreadable, or lacks a field that is needed."""


class UsageError(ConfigError):
    """A command-line flag or value the stage does not accept; printed as ``PROG: error: MESSAGE``."""

    def __init__(self, message: str, prog: str = "bioinstruct") -> None:
        super().__init__(message)
        self.prog = prog


def did_you_mean(value: str, choices: Iterable[str], *, n: int = 1, quote: str = "'") -> str:
    """``"; did you mean 'lora_r'?"`` for the ``n`` closest of ``choices`` (difflib), or ``""`` when none is close."""
    import difflib

    options = [str(choice) for choice in choices]
    value = str(value)
    # A name cut short or run on (lora_rank for lora_r, qaa for qa) beats a closer-spelled stranger.
    stems = [
        o for o in options if min(len(o), len(value)) >= 2 and (value.startswith(o) or o.startswith(value))
    ]
    close = difflib.get_close_matches(value, stems, n=n, cutoff=0.5) if stems else []
    close = close or difflib.get_close_matches(value, options, n=n, cutoff=0.6)
    if not close and value.lower() != value:
        close = difflib.get_close_matches(value.lower(), options, n=n, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"{quote}{match}{quote}" for match in close) + "?"


def one_line(message: object) -> str:
    """A message's lines joined with ``; `` (a library's multi-line error as the CLI's one line)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join(lines)
