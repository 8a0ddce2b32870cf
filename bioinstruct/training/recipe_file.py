"""``recipe.yaml``: the effective training configuration, saved next to the adapter and shown in its card.

Why the fields that differ from the defaults: the three config objects hold ~250 fields, nearly all
at their defaults; a recipe lists what this run chose (plus the model and data, always), in the
YAML format ``bioinstruct train --config recipe.yaml`` reads, so the run can be repeated from the
card. Values are taken after TRL/transformers post-processing, compared with each field's declared
default (empty values, ``"none"`` and one-item lists compared loosely, so post-processing alone
does not count as a choice). Token fields (``hub_token``) and anything that looks like a
credential are never written.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from typing import Any

import yaml

logger = logging.getLogger(__name__)

RECIPE_FILE = "recipe.yaml"
#: Always written, even at their default: what was trained on what.
ALWAYS = ("model_name_or_path", "dataset_name")
#: Credential fields (``eos_token``/``pad_token`` are tokenizer settings and stay).
_SECRET_NAME = re.compile(r"^(hub_token|token|push_to_hub_token)$|api_?key|secret|password|auth_token", re.I)
_SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_\-]{16,})")
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
    if _SECRET_NAME.search(name):
        return False
    if _SECRET_VALUE.search(yaml.safe_dump(value)):
        logger.warning(
            "recipe field %r looks like it holds a credential; it is not written to recipe.yaml", name
        )
        return False
    return True


def _strip_secret_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_secret_keys(item) for key, item in value.items() if not _SECRET_NAME.search(key)}
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
