"""Argument parsing shared by several stages' command lines.

Why its own module: ``--data-file NAME=PATH`` is repeated by ``evaluate``, ``decontaminate``,
``generate`` and ``quickstart``; one parser gives them one error message.
"""

from __future__ import annotations

from collections.abc import Iterable

from bioinstruct.errors import ConfigError


def parse_name_path_pairs(values: Iterable[str] | None, flag: str = "--data-file") -> dict[str, str]:
    """``["medqa=test.jsonl", ...]`` -> ``{"medqa": "test.jsonl"}`` (a repeatable ``NAME=PATH`` flag)."""
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"{flag} expects NAME=PATH (e.g. {flag} medqa=medqa.jsonl), got {value!r}")
        pairs[name.strip()] = path.strip()
    return pairs
