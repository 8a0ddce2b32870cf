"""Render a card template and check that what came out is a card the Hub will parse.

Why the YAML comes from huggingface_hub and is checked after rendering: the front matter is what
the Hub indexes (license, datasets, base model, ``model-index``), and a hand-written YAML block
breaks silently (a stray colon, a wrong indent). The template writes ``{{ card_data }}`` between
the ``---`` lines, as huggingface_hub's own templates do; the result is parsed back with
``DatasetCard``/``ModelCard`` (offline; ``.validate()`` would call the Hub) and compared with the
metadata that was meant to be there, so an edited template that drops or mangles it is an error
that names the template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from bioinstruct.errors import ConfigError


def plural(count: Any, singular: str, plural_form: str | None = None) -> str:
    """``1 item``, ``2 items``, ``1,234 rows`` (the count formatted with thousands separators)."""
    number = count if isinstance(count, int | float) else 0
    word = singular if number == 1 else (plural_form or singular + "s")
    shown = f"{number:,}" if isinstance(number, int) else f"{number:,.2f}"
    return f"{shown} {word}"


def were(count: Any) -> str:
    """``was`` for one, ``were`` for any other count."""
    return "was" if count == 1 else "were"


def pct(part: Any, whole: Any) -> str:
    """``part`` as a percentage of ``whole`` with one decimal (``0.0%`` when ``whole`` is 0)."""
    return f"{100.0 * float(part) / float(whole):.1f}%" if whole else "0.0%"


def environment() -> jinja2.Environment:
    """Strict (a misspelt variable is an error, not an empty string), with the card filters."""
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False, trim_blocks=False
    )
    env.filters["plural"] = plural
    env.globals["pct"] = pct
    env.globals["were"] = were
    return env


def render_template(path: Path, context: dict[str, Any]) -> str:
    """Render the Jinja file ``path``; any template error is one ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read card template {str(path)!r}: {err.strerror or err}") from err
    try:
        return environment().from_string(text).render(**context)
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(f"card template {str(path)!r} line {err.lineno}: {err.message}") from err
    except jinja2.UndefinedError as err:
        raise ConfigError(
            f"card template {str(path)!r} uses an unknown variable ({err.message}); "
            f"known: {', '.join(sorted(context))}"
        ) from err


def parse_card(text: str, card_class: type, template: Path, expected: dict[str, Any]) -> Any:
    """Parse the rendered ``text`` with ``card_class`` and check its metadata holds ``expected``.

    ``expected`` maps a ``card.data`` attribute (``license``, ``eval_results``, ...) to its value.
    """
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    if not text.startswith("---") or not REGEX_YAML_BLOCK.search(text):
        raise ConfigError(
            f"card template {str(template)!r} must start with a YAML block ('---', '{{{{ card_data }}}}', '---')"
        )
    try:
        card = card_class(text)
    except Exception as err:  # noqa: BLE001 - yaml.YAMLError, ValueError from the CardData classes
        detail = " ".join(str(err).split())[:300]
        raise ConfigError(
            f"card template {str(template)!r} produced invalid YAML front matter: {type(err).__name__}: {detail}"
        ) from err
    for name, value in expected.items():
        found = getattr(card.data, name, None)
        if found != value:
            raise ConfigError(
                f"card template {str(template)!r} produced front matter whose {name!r} is {found!r}, "
                f"expected {value!r}: keep '{{{{ card_data }}}}' as the YAML block"
            )
    return card
