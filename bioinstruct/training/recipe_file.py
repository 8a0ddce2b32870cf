"""``recipe.yaml``: the effective training configuration, saved next to the adapter and shown in its card.

Why the fields that differ from the defaults: the three config objects hold ~250 fields, nearly all
at their defaults; a recipe lists what this run chose (plus the model and data, always), in the
YAML format ``bioinstruct train --config recipe.yaml`` reads, so the run can be repeated from the
card. Values are taken after TRL/transformers post-processing, compared with each field's declared
default (empty values, ``"none"`` and one-item lists compared loosely, so post-processing alone
does not count as a choice). Token fields (``hub_token``) and anything that looks like a
credential are never written.

Reading a recipe (:func:`load_recipe`, :func:`check_recipe`) names the file and line of each
mistake: a YAML syntax error, a key that is no field (with "did you mean"), a value of the wrong
type or outside the field's choices.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import logging
from pathlib import Path
from typing import Any

import yaml

from bioinstruct.errors import ConfigError, did_you_mean
from bioinstruct.secrets import SECRET_FIELD, looks_like_key

logger = logging.getLogger(__name__)

RECIPE_FILE = "recipe.yaml"
#: Always written, even at their default: what was trained on what.
ALWAYS = ("model_name_or_path", "dataset_name")
#: Deprecated aliases transformers fills from their replacement: writing both only adds a warning.
_ALIASES = {"gradient_checkpointing": "activation_checkpointing"}
_EMPTY = (None, "", "none", [], (), {})


def plain(value: Any) -> Any:
    """A YAML-safe copy of ``value`` (enums by value, dataclasses as dicts)."""
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _loose(value: Any) -> Any:
    if value in _EMPTY or value == ["none"]:
        return None
    if isinstance(value, list) and len(value) == 1:
        return _loose(value[0])
    return value


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _is_default(value: Any, default: Any) -> bool:
    if default is dataclasses.MISSING:
        return False
    if default is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A config object that __post_init__ builds from nothing (accelerator_config) is still the default.
        try:
            return plain(value) == plain(type(value)())
        except TypeError:
            return False
    value, default = plain(value), plain(default)
    return value == default or _loose(value) == _loose(default)


def _secret_free(name: str, value: Any) -> bool:
    if SECRET_FIELD.search(name):
        return False
    if looks_like_key(yaml.safe_dump(value)):
        logger.warning(
            "recipe field %r looks like it holds a credential; it is not written to recipe.yaml", name
        )
        return False
    return True


def _strip_secret_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_secret_keys(item) for key, item in value.items() if not SECRET_FIELD.search(key)}
    if isinstance(value, list):
        return [_strip_secret_keys(item) for item in value]
    return value


def effective_recipe(*configs: Any) -> dict[str, Any]:
    """The fields of ``configs`` (dataclass instances) that differ from their defaults, plus :data:`ALWAYS`.

    Call it before anything mutates the configs for the run (``model_init_kwargs`` is filled in by
    the trainer build).
    """
    recipe: dict[str, Any] = {}
    for config in configs:
        for field in dataclasses.fields(config):
            if not field.init or field.name in recipe:
                continue
            value = getattr(config, field.name)
            if field.name not in ALWAYS and _is_default(value, _default(field)):
                continue
            value = _strip_secret_keys(plain(value))
            if _secret_free(field.name, value):
                recipe[field.name] = value
    for alias, replacement in _ALIASES.items():
        if alias in recipe and replacement in recipe:
            del recipe[alias]
    return recipe


def recipe_yaml(recipe: dict[str, Any]) -> str:
    """The recipe as YAML: the model and data first, then the other fields alphabetically."""
    ordered = {key: recipe[key] for key in ALWAYS if key in recipe}
    ordered.update({key: recipe[key] for key in sorted(recipe) if key not in ordered})
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=False)


# -- reading a recipe (``bioinstruct train --config``) ------------------------------------------

_TYPE_NAMES = {int: "an integer", float: "a float", str: "a string"}


def load_recipe(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """A recipe's fields and the line each is on; a missing file or bad YAML is one ConfigError
    naming ``file:line:column`` and the problem (not yaml's multi-line traceback)."""
    from bioinstruct.config_files import load_yaml_mapping

    recipe, lines = load_yaml_mapping(path, "recipe", example="examples/recipes/tiny-cpu.yaml")
    if not recipe:
        raise ConfigError(
            f"{path}: the recipe is empty; it needs at least model_name_or_path and dataset_name"
        )
    return recipe, lines


def check_recipe(recipe: dict[str, Any], lines: dict[str, int], parser: Any, name: str) -> None:
    """Every key a field of ``parser`` (TrlParser), every value of the field's type or choices.

    Why before TrlParser: it reports an unknown key only after building every config (so a
    CPU-only machine first fails on the missing ``use_cpu``), without "did you mean", and a
    value of the wrong type with argparse's full usage block.
    """
    actions: dict[str, Any] = {}
    for action in parser._actions:  # a bool field has --x and --no_x; check against the typed one
        if action.dest != "help" and (action.dest not in actions or action.type is not None):
            actions[action.dest] = action
    for key, value in recipe.items():
        where = f"{name}:{lines.get(str(key), '?')}"
        if key == "env":  # TrlParser: environment variables to set
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: env must be a mapping of VARIABLE: value")
            continue
        action = actions.get(str(key))
        if action is None:
            hint = did_you_mean(str(key), actions)
            raise ConfigError(
                f"unknown key {key!r} in {name} (line {lines.get(str(key), '?')}){hint or ''}"
                + ("" if hint else "; `bioinstruct train --help-all` lists every field")
            )
        _check_value(str(key), value, action, where)


def _check_value(key: str, value: Any, action: Any, where: str) -> None:
    if value is None:
        return
    values = value if isinstance(value, list) and action.nargs in ("+", "*") else [value]
    if isinstance(value, list) and action.nargs not in ("+", "*"):
        raise ConfigError(f"{where}: {key}: {value!r} is a list; expected one value")
    for item in values:
        converted = item
        kind = action.type
        if kind in (int, float):
            ok = isinstance(item, int | float) and not isinstance(item, bool)
            if ok and kind is int and float(item) != int(item):
                ok = False
            if not ok and isinstance(item, str):
                try:
                    converted = kind(item)
                    ok = True
                except ValueError:
                    ok = False
            if not ok:
                raise ConfigError(f"{where}: {key}: {item!r} is not {_TYPE_NAMES[kind]}")
        elif callable(kind) and kind is not str and isinstance(item, str):
            try:
                converted = kind(item)
            except (ValueError, TypeError, KeyError, argparse.ArgumentTypeError) as err:
                expected = "true or false" if getattr(kind, "__name__", "") == "string_to_bool" else str(err)
                raise ConfigError(f"{where}: {key}: {item!r} is not {expected}") from None
        elif getattr(kind, "__name__", "") == "string_to_bool" and not isinstance(item, bool):
            raise ConfigError(f"{where}: {key}: {item!r} is not true or false")
        choices = list(action.choices) if action.choices else []
        if choices and converted not in choices and str(converted) not in map(str, choices):
            options = [str(getattr(choice, "value", choice)) for choice in choices]
            raise ConfigError(
                f"{where}: {key}: {item!r} is not one of {', '.join(options)}{did_you_mean(str(item), options)}"
            )
