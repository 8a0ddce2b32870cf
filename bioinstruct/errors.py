"""One exception type for every mistake a user can fix.

Why: the CLI turns a ``BioInstructError`` into one line on stderr and a non-zero exit
code, instead of a traceback from deep inside a dependency. Library users can catch it
to tell their own mistakes (bad file, bad field, bad flag) from bugs.
"""

from __future__ import annotations


class BioInstructError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class ConfigError(BioInstructError):
    """A configuration value is missing, unknown or inconsistent."""


class DataError(BioInstructError):
    """A data file is missing, unreadable, or lacks a field that is needed."""
