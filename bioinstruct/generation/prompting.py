"""Render the teacher prompts from the Jinja templates shipped in ``bioinstruct/generation/prompts``.

Why templates in files: the prompt is the most tuned part of a self-instruct pipeline, so users
must be able to read it, diff it and pass their own without touching Python. ``StrictUndefined``
turns a typo in a user template into a clear error instead of a silently empty prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

from bioinstruct.errors import ConfigError

GENERATE_TEMPLATE = "generate.jinja"
LABEL_TEMPLATE = "label.jinja"
#: Generation prompts shipped with the package: the paper's, and a plainer one for small local
#: teachers (SmolLM2-135M kept a usable task in 1 of 14 replies to the first, 3 of 19 to the second).
BUNDLED_TEMPLATES = ("generate.jinja", "generate_small.jinja")


def _one_line(text: str) -> str:
    """Collapse whitespace: an instruction must fit on its numbered line, or the parser loses it."""
    return re.sub(r"\s+", " ", text).strip()


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False, trim_blocks=False
    )


@lru_cache(maxsize=8)
def _bundled_source(name: str) -> str:
    return resources.files("bioinstruct").joinpath("generation", "prompts", name).read_text(encoding="utf-8")


def template_source(template: str | Path | None, default: str) -> str:
    """The text of a user template file (path), of a bundled template by name
    (``generate_small.jinja``), or of the bundled ``default`` when ``template`` is None."""
    if template is None:
        return _bundled_source(default)
    if not Path(template).is_file() and str(template) in BUNDLED_TEMPLATES:
        return _bundled_source(str(template))
    path = Path(template)
    if not path.is_file():
        raise ConfigError(
            f"prompt template {str(path)!r} not found; pass the path of a Jinja file or a bundled "
            f"name ({', '.join(BUNDLED_TEMPLATES)})"
        )
    return path.read_text(encoding="utf-8")


def load_template(template: str | Path | None, default: str) -> jinja2.Template:
    """Compile :func:`template_source`."""
    source = template_source(template, default)
    try:
        return _environment().from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(
            f"prompt template {str(template or default)!r} line {err.lineno}: {err.message}"
        ) from err


def _render(template: jinja2.Template, name: str, **context: object) -> str:
    try:
        return template.render(**context)
    except jinja2.UndefinedError as err:
        raise ConfigError(f"prompt template {name!r} uses an unknown variable: {err.message}") from err


def render_template(template: str | Path | None, default: str, **context: object) -> str:
    """Render a user template file, a bundled one by name, or the bundled ``default``."""
    return _render(load_template(template, default), str(template or default), **context)


def render_generation_prompt(
    seeds: Sequence[Mapping[str, str]], *, num_tasks: int = 20, template: str | Path | None = None
) -> str:
    """The prompt that shows ``seeds`` as items 1..k and asks the teacher to continue to ``num_tasks``.

    Template variables: ``seeds`` (dicts with instruction/input/output, instruction on one line)
    and ``num_tasks``.
    """
    if num_tasks <= len(seeds):
        raise ConfigError(
            f"tasks_per_prompt ({num_tasks}) must exceed the number of prompt seeds ({len(seeds)})"
        )
    clean = [
        {
            "instruction": _one_line(seed["instruction"]).rstrip(":"),
            "input": str(seed.get("input") or "").strip(),
            "output": str(seed["output"]).strip(),
        }
        for seed in seeds
    ]
    return _render(
        load_template(template, GENERATE_TEMPLATE),
        str(template or GENERATE_TEMPLATE),
        seeds=clean,
        num_tasks=num_tasks,
    )


def render_label_prompt(instructions: Sequence[str], *, template: str | Path | None = None) -> str:
    """The prompt that lists ``instructions`` as ``1. ...`` lines and asks for one ``N. LABEL`` line each."""
    if not instructions:
        raise ValueError("render_label_prompt needs at least one instruction")
    return _render(
        load_template(template, LABEL_TEMPLATE),
        str(template or LABEL_TEMPLATE),
        instructions=[_one_line(text) for text in instructions],
    )


def render_json_format(*, first_index: int, num_tasks: int) -> str:
    """The paragraph appended to the generation prompt in JSON mode (``response_format`` json_object)."""
    return _render(
        load_template(None, "json_format.jinja"),
        "json_format.jinja",
        first_index=first_index,
        num_tasks=num_tasks,
    )
