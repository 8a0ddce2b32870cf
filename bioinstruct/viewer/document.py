"""What every viewer page is made of, whatever folder it shows: assets, safe JSON, CSP, the writer.

Why shared: the generation-run page and the evaluation page are both one self-contained file
opened from disk, and both must be equally safe with untrusted text (generated instructions,
model predictions): data goes in as JSON inside ``<script type="application/json">`` with every
``<``, ``>`` and ``&`` written as a ``\\u`` escape (:func:`script_json`), the page's own script
and style are allowed by their SHA-256 and nothing else runs or loads (:func:`security_policy`),
and the file is written atomically, piece by piece (:func:`write_page`). One implementation means
a fix to any of these reaches both pages.

``common.css`` and ``common.js`` (the header, facts, filters bar and pager styles; the ``Viewer``
helpers ``el``, ``num``, ``option``, ``pager`` and ``guarded``) go in front of each page's own
style and script (:func:`page_style`, :func:`page_script`), so the CSP hashes cover both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from bioinstruct.errors import DataError
from bioinstruct.jsonio import write_text_atomically

DEFAULT_NAME = "view.html"
_PLACEHOLDER = re.compile(r"@@([A-Z]+)@@")


def asset(name: str) -> str:
    """The text of a file shipped next to this module (``run.html``, ``eval.js``, ...)."""
    return (resources.files("bioinstruct.viewer") / name).read_text(encoding="utf-8")


def page_style(name: str) -> str:
    """``common.css`` followed by the page's own stylesheet ``name``."""
    return asset("common.css") + "\n" + asset(name)


def page_script(name: str) -> str:
    """``common.js`` (the ``Viewer`` helpers) followed by the page's own script ``name``."""
    return asset("common.js") + "\n" + asset(name)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def security_policy(style: str, script: str) -> str:
    """A Content-Security-Policy allowing exactly this inline ``style`` and ``script``, images from
    ``data:`` URLs, and no network at all. Quote-free, so it needs no escaping in an attribute."""
    return f"default-src 'none'; img-src data:; style-src {_sha256(style)}; script-src {_sha256(script)}"


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">`` in HTML.

    ``<``, ``>`` and ``&`` only ever occur inside JSON strings, where their ``\\u`` escapes mean the
    same characters. A lone surrogate (valid in a JSON string read by Python, not encodable as
    UTF-8) is written as its ``\\u`` escape too, and a NaN or infinity as the string of its name."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or an infinity (a -inf log-likelihood): not JSON, written as its name
        text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by its name (``"-inf"``), at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def json_array_chunks(
    head: dict[str, Any], key: str, rows: Sequence[Any], convert: Callable[[Any], Any], chunk: int = 2000
) -> Iterator[str]:
    """``head`` with ``key`` set to ``[convert(row) for row in rows]``, as :func:`script_json` text in
    pieces of ``chunk`` rows, so that 100k rows are never one string (nor one list) in memory."""
    yield script_json(head)[:-1] + ("," if head else "") + f'"{key}":['
    for start in range(0, len(rows), chunk):
        text = script_json([convert(row) for row in rows[start : start + chunk]])
        yield ("," if start else "") + text[1:-1]
    yield "]}"


def fill_template(template: str, parts: Mapping[str, Callable[[], Iterable[str]]]) -> Iterator[str]:
    """``template`` with each ``@@NAME@@`` replaced by the pieces of ``parts[NAME]()``, in order.

    The template is cut at its placeholders once: text inside a part is never taken for one."""
    at = 0
    for match in _PLACEHOLDER.finditer(template):
        yield template[at : match.start()]
        yield from parts[match.group(1)]()
        at = match.end()
    yield template[at:]


def standard_parts(title: str, style: str, script: str) -> dict[str, Callable[[], Iterable[str]]]:
    """The parts every page's template has: ``TITLE``, ``CSP``, ``STYLE`` and ``SCRIPT``."""
    csp = security_policy(style, script)
    return {
        "TITLE": lambda: [escape(title)],
        "CSP": lambda: [escape(csp, quote=False)],
        "STYLE": lambda: [style],
        "SCRIPT": lambda: [script],
    }


def write_page(path: str | Path, chunks: Iterable[str]) -> Path:
    """Write the page's ``chunks`` to ``path`` atomically; a :class:`DataError` when it cannot be."""
    path = Path(path)
    try:
        return write_text_atomically(path, chunks)
    except OSError as err:
        raise DataError(f"cannot write the viewer to {path}: {err.strerror or err}") from None


__all__ = [
    "DEFAULT_NAME",
    "asset",
    "fill_template",
    "json_array_chunks",
    "page_script",
    "page_style",
    "script_json",
    "security_policy",
    "standard_parts",
    "write_page",
]
