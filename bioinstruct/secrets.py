"""The one place that decides what a secret is and where it may not go.

Why one module: redaction of error messages, the fields left out of ``recipe.yaml`` and cards,
and the scan that refuses to publish a folder must agree. With a pattern each, a key short
enough to be stripped from ``recipe.yaml`` could pass the publish scan. Everything here is a
pure function of its inputs (plus the environment variables and the cached Hub login that
:func:`known_secrets` reads), so every layer above can use it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bioinstruct.errors import BioInstructError

#: Environment variables whose values are credentials: never written, never shown.
SECRET_ENV_VARS = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)
#: Names of config fields that hold credentials (``eos_token``/``pad_token`` are tokenizer
#: settings and are not among them).
SECRET_FIELD = re.compile(
    r"^(token|hub_token|push_to_hub_token|auth_token|access_token)$|api_?key|secret|password|authorization",
    re.IGNORECASE,
)
#: Values shaped like an OpenAI key (``sk-``, ``sk-proj-``) or a Hugging Face token (``hf_``).
_KEY_SHAPE = r"\b(?:hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_\-]{16,})"
KEY_SHAPE = re.compile(_KEY_SHAPE)
_KEY_SHAPE_BYTES = re.compile(_KEY_SHAPE.encode())
#: Shorter strings are not checked by value: they would match by chance.
_MIN_SECRET_LENGTH = 8
#: Files never scanned (weights, images) and vocabularies (long subwords, checked by value only).
_SKIP_SCAN_SUFFIXES = (".safetensors", ".bin", ".png", ".model")
_NO_SHAPE_SCAN = ("tokenizer.json", "vocab.json", "merges.txt", "added_tokens.json")


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` without the given secrets and without anything shaped like a key (``sk-***``)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return KEY_SHAPE.sub(lambda match: f"{match.group(0)[:3]}***", text)


def looks_like_key(text: str) -> bool:
    """True when ``text`` holds something shaped like an API key or Hub token."""
    return bool(KEY_SHAPE.search(text))


def public_url(url: Any) -> str | None:
    """``url`` without user, password, query or fragment (``https://user:key@host/v1?k=x`` -> ``https://host/v1``).

    What may be shown of an endpoint in a message, a log line, run.json or a card.
    """
    if not url:
        return None
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def known_secrets(token: str | None = None) -> list[tuple[str, str]]:
    """(where it comes from, value) for every credential this process can see."""
    found = [("the token argument", token)] if token else []
    found += [(name, os.environ.get(name, "")) for name in SECRET_ENV_VARS]
    try:
        from huggingface_hub import get_token

        found.append(("the cached Hugging Face login", get_token() or ""))
    except Exception:  # noqa: BLE001 - an unreadable token file is simply not a secret we can check
        pass
    return [(where, value) for where, value in found if value and len(value) >= _MIN_SECRET_LENGTH]


def assert_no_secrets(folder: Path, token: str | None = None) -> None:
    """Refuse a folder in which any file holds a credential (named by its source, never shown)."""
    secrets = [(where, value.encode("utf-8")) for where, value in known_secrets(token)]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix in _SKIP_SCAN_SUFFIXES:
            continue
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix()
        for where, value in secrets:
            if value in data:
                raise BioInstructError(f"refusing to publish: {name} contains the value of {where}")
        if path.name not in _NO_SHAPE_SCAN and _KEY_SHAPE_BYTES.search(data):
            raise BioInstructError(
                f"refusing to publish: {name} contains something shaped like an API key or Hub token"
            )
