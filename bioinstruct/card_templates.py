"""Build a Hub card from a Jinja template with huggingface_hub's ``from_template``, checked.

Why ``ModelCard.from_template``/``DatasetCard.from_template``: the YAML front matter is what the
Hub indexes (license, datasets, base model, ``model-index``), and huggingface_hub writes it from a
``ModelCardData``/``DatasetCardData`` into the template's ``{{ card_data }}`` block and parses the
result into the card, as its own templates do; a hand-written YAML block breaks silently (a stray
colon, a wrong indent).

Why the checks around it: ``from_template`` renders with a plain Jinja template, where a misspelt
variable is an empty string and a broken front matter a card without metadata. So the template is
first compiled and its variables checked against the fields given, and the card that comes back
must hold the metadata that was meant to be there (``card.data`` against ``expected``); any of
these is one ConfigError naming the template. The helpers a template may call (``plural``,
``pct``, ``were``) are passed as functions, since ``from_template`` takes no Jinja filters.

This lives in the core layer because both the dataset cards (``bioinstruct.cards``) and the
adapter's model card written at the end of training (``bioinstruct.training.model_card``) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

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


#: Functions every card template may call, e.g. ``{{ plural(num_rows, "row") }}``.
TEMPLATE_FUNCTIONS = {"plural": plural, "pct": pct, "were": were}
_CALLS = "plural(count, word), pct(part, whole), were(count)"


def _check_template(path: Path, known: set[str]) -> None:
    """Compile the template as ``from_template`` will and check every variable it reads is known."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read card template {str(path)!r}: {err.strerror or err}") from err
    env = jinja2.Environment()  # the settings of jinja2.Template, which from_template renders with
    try:
        tree = env.parse(source)
        env.compile(tree)
    except jinja2.TemplateSyntaxError as err:
        hint = (
            f" (card templates call functions instead: {_CALLS})" if "No filter named" in err.message else ""
        )
        raise ConfigError(f"card template {str(path)!r} line {err.lineno}: {err.message}{hint}") from err
    # A name the template sets itself (``{% set %}`` in one branch, a loop or macro variable) is its own.
    own = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx in ("store", "param")}
    own |= {node.name for node in tree.find_all(jinja2.nodes.Macro)}
    unknown = sorted(jinja2.meta.find_undeclared_variables(tree) - known - own - set(env.globals))
    if unknown:
        raise ConfigError(
            f"card template {str(path)!r} uses an unknown variable ({', '.join(map(repr, unknown))}); "
            f"known: {', '.join(sorted(known))}"
        )


def render_card(
    card_class: type,
    card_data: Any,
    template: Path,
    fields: Mapping[str, Any],
    *,
    expected: Mapping[str, Any],
) -> str:
    """``card_class.from_template(card_data, template_path=template, **fields)`` as checked text.

    ``card_class`` is ``ModelCard`` or ``DatasetCard`` and ``card_data`` its ``*CardData``;
    ``expected`` maps a ``card.data`` attribute (``license``, ``eval_results``, ...) to its value.
    """
    import yaml

    fields = {**TEMPLATE_FUNCTIONS, **fields}
    _check_template(template, {"card_data", *card_data.to_dict(), *fields})
    try:
        card = card_class.from_template(card_data, template_path=str(template), **fields)
    except jinja2.TemplateError as err:
        raise ConfigError(f"card template {str(template)!r}: {type(err).__name__}: {err}") from err
    except (yaml.YAMLError, ValueError) as err:  # the YAML block, or CardData refusing its content
        detail = " ".join(str(err).split())[:300]
        raise ConfigError(
            f"card template {str(template)!r} produced invalid YAML front matter: {type(err).__name__}: {detail}"
        ) from err
    if not card.data.to_dict():
        raise ConfigError(
            f"card template {str(template)!r} must start with a YAML block ('---', '{{{{ card_data }}}}', '---')"
        )
    for name, value in expected.items():
        found = getattr(card.data, name, None)
        if found != value:
            raise ConfigError(
                f"card template {str(template)!r} produced front matter whose {name!r} is {found!r}, "
                f"expected {value!r}: keep '{{{{ card_data }}}}' as the YAML block"
            )
    text = str(card)
    # jinja2.Template drops the template's final newline; a card file ends with one.
    return text if text.endswith("\n") else text + "\n"
