"""Stage options as a dataclass: one flag per field, ``--config FILE.yaml`` under the flags, and the
effective config written back next to the run (atomically, without credentials), so one YAML file
reruns a ``generate`` or ``evaluate`` run the way ``recipe.yaml`` reruns training.

Why not transformers' HfArgumentParser (which TrlParser builds on): ``generate`` runs on the core
install, which has no transformers (the train/eval extras bring it), ``--help`` answers without
importing it (1.2 s), and HfArgumentParser would respell every flag (``--num_instructions``) and
turn a repeatable flag (``--adapter A --adapter B``) into ``nargs="+"``. The dataclasses stay
HfArgumentParser-compatible (its ``help``/``metavar``/``choices`` metadata; a test loads them with it).

This module reads (flags and ``--config`` files into the dataclass); writing the effective config
back without credentials is :mod:`bioinstruct.config_record`, whose names are re-exported here.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bioinstruct.argparsing import ArgumentParser
from bioinstruct.config_record import config_yaml, public_config, recording_config  # re-exported
from bioinstruct.errors import ConfigError, UsageError, did_you_mean, one_line
from bioinstruct.secrets import SECRET_FIELD

_EXPECTED = {str: "a string", int: "an integer", float: "a float", bool: "true or false"}


@dataclasses.dataclass(frozen=True)
class _Kind:
    """A field's type as the command line sees it: ``str | int | float | bool``, a list of one, optional."""

    base: type
    is_list: bool
    optional: bool


def string_to_bool(value: Any) -> bool:
    """``true/yes/1`` or ``false/no/0`` (any case) as a bool; the name is what argparse's error shows."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1"):
        return True
    if text in ("false", "f", "no", "n", "0"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _kinds(config_class: type) -> dict[str, _Kind]:
    hints = typing.get_type_hints(config_class)
    kinds = {}
    for field in dataclasses.fields(config_class):
        hint, args = hints[field.name], typing.get_args(hints[field.name])
        optional = type(None) in args
        if optional:
            (hint,) = [arg for arg in args if arg is not type(None)]
        is_list = typing.get_origin(hint) is list
        base = typing.get_args(hint)[0] if is_list else hint
        if base not in _EXPECTED:
            raise TypeError(
                f"{config_class.__name__}.{field.name}: {hint} is not str, int, float, bool or a list"
            )
        kinds[field.name] = _Kind(base, is_list, optional)
    return kinds


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _dashed(args: list[str], known: Any) -> list[str]:
    """``--num_instructions 5`` (a config key's spelling) read as ``--num-instructions 5``."""
    out = list(args)
    for index, token in enumerate(out):
        if token == "--":
            break
        flag, sep, value = token.partition("=")
        if token.startswith("--") and "_" in flag and flag not in known and flag.replace("_", "-") in known:
            out[index] = flag.replace("_", "-") + sep + value
    return out


class _Repeatable(argparse.Action):
    """``--flag A --flag B`` -> ``[A, B]``; given on the command line, the list replaces the config file's."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, None)
        items = [] if current is None or current is self.default else list(current)
        setattr(namespace, self.dest, [*items, values])


def add_config_arguments(parser: ArgumentParser, config_class: type) -> None:
    """``--config FILE.yaml`` and one flag per field of the dataclass ``config_class``.

    Parsing leaves the config object in ``namespace.config`` (and each field's value under its own
    name): the dataclass defaults, overridden by the file, overridden by the flags. A required field
    (no default) may come from the file or a flag. A file with a key that is no field, or a value of
    the wrong type, is one :class:`ConfigError` naming the file and line.
    """
    if not isinstance(parser, ArgumentParser):
        raise TypeError("add_config_arguments needs a bioinstruct.argparsing.ArgumentParser")
    example = getattr(config_class, "CONFIG_FILE", "config.yaml")
    parser.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE.yaml",
        help=f"Read the options from a YAML file of `field: value` lines (the {example} every run writes "
        "into its output folder reruns it); flags given as well override the file.",
    )
    kinds = _kinds(config_class)
    for field in dataclasses.fields(config_class):
        kind, flag = kinds[field.name], _flag(field.name)
        options = dict(field.metadata)  # help, metavar, choices: add_argument's keywords
        aliases = options.pop("aliases", [])
        aliases = [aliases] if isinstance(aliases, str) else list(aliases)
        if _required(field):
            options["help"] = (options.get("help", "") + " Required (a flag or a --config key).").strip()
        value_type = None if kind.base is str else kind.base
        default = _default(field)
        if kind.is_list:
            parser.add_argument(
                flag, *aliases, action=_Repeatable, type=value_type, default=default, **options
            )
        elif kind.base is bool:
            options.setdefault("metavar", "BOOL")
            parser.add_argument(
                flag, *aliases, type=string_to_bool, nargs="?", const=True, default=default, **options
            )
            if default is True:
                parser.add_argument(
                    _flag(f"no_{field.name}"),
                    dest=field.name,
                    action="store_false",
                    default=True,
                    help=f"Same as {flag} false.",
                )
        else:
            parser.add_argument(flag, *aliases, type=value_type, default=default, **options)
    parser.config_class = config_class
    parser.config_parse = _parse_with_config


def parse_config(config_class: type, argv: Sequence[str], prog: str) -> Any:
    """The config object that ``prog ARGV`` runs with (what :func:`add_config_arguments` parses)."""
    parser = ArgumentParser(prog=prog)
    add_config_arguments(parser, config_class)
    return parser.parse_args(list(argv)).config


# -- reading a config file -------------------------------------------------------------------------


def load_yaml_mapping(
    path: str | Path, what: str = "config file", example: str = ""
) -> tuple[dict[str, Any], dict[str, int]]:
    """A YAML file's ``key: value`` pairs and the line of each key; a missing file, bad YAML, a
    non-mapping or a repeated key is one :class:`ConfigError` naming ``file:line``. ``what`` names
    the file in messages ("config file", "recipe"); ``example`` is shown when it does not exist."""
    import yaml

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f" (e.g. {example})" if example else ""
        raise ConfigError(f"--config {name!r}: cannot read the {what}: no such file{hint}") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ConfigError(f"--config {name!r}: cannot read the {what} ({reason})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or str(err)
        context = getattr(err, "context", None)
        raise ConfigError(
            f"{where}: invalid YAML: {problem}" + (f" ({context})" if context else "")
        ) from None
    if mapping is None:
        return {}, {}
    if not isinstance(mapping, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            f"{name}: a {what} is a YAML mapping of `field: value` lines, got {type(mapping).__name__}"
        )
    lines: dict[str, int] = {}
    for key_node, _value in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in lines:
            raise ConfigError(f"{name}:{line}: key {key!r} is set twice (first on line {lines[key]})")
        lines[key] = line
    return mapping, lines


def read_config_file(path: str | Path, config_class: type, prog: str = "bioinstruct") -> dict[str, Any]:
    """The fields a config file sets, converted to each field's type (``max_cost_usd: 5`` -> 5.0).

    Every key must be a field ("did you mean"), every value of the field's type and choices; a key
    that names a credential is refused: credentials come from the environment, never from a file.
    """
    mapping, lines = load_yaml_mapping(path)
    kinds = _kinds(config_class)
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    values = {}
    for key, value in mapping.items():
        key, line = str(key), lines.get(str(key), "?")
        if key not in fields:
            if SECRET_FIELD.search(key):
                raise ConfigError(
                    f"{path} (line {line}): {key!r}: credentials are never read from a file; "
                    "set them in the environment (OPENAI_API_KEY)"
                )
            hint = did_you_mean(key, fields)
            raise ConfigError(
                f"unknown key {key!r} in {path} (line {line})"
                + (hint or f"; `{prog} --help` lists the options (a key is a flag without --, with _ for -)")
            )
        values[key] = _config_value(key, value, kinds[key], fields[key], f"{path}:{line}")
    return values


def _config_value(key: str, value: Any, kind: _Kind, field: dataclasses.Field, where: str) -> Any:
    if value is None:
        if kind.optional:
            return None
        raise ConfigError(f"{where}: {key}: null is not allowed here; expected {_EXPECTED[kind.base]}")
    choices = field.metadata.get("choices")
    if kind.is_list:
        items = value if isinstance(value, list) else [value]
        return [_scalar(key, item, kind.base, choices, where) for item in items]
    if isinstance(value, list | dict):
        what = "list" if isinstance(value, list) else "mapping"
        raise ConfigError(
            f"{where}: {key}: {value!r} is a {what}; expected one value ({_EXPECTED[kind.base]})"
        )
    return _scalar(key, value, kind.base, choices, where)


def _scalar(key: str, item: Any, base: type, choices: Sequence[Any] | None, where: str) -> Any:
    converted: Any = None
    if base is bool:
        with contextlib.suppress(ValueError):
            converted = string_to_bool(item) if isinstance(item, bool | str) else None
    elif isinstance(item, bool | list | dict):
        converted = None
    elif base is int:
        if isinstance(item, int) or (isinstance(item, float) and item.is_integer()):
            converted = int(item)
        elif isinstance(item, str):
            with contextlib.suppress(ValueError):
                converted = int(item)
    elif base is float:
        with contextlib.suppress(ValueError):
            converted = float(item) if isinstance(item, int | float | str) else None
    elif isinstance(item, str | int | float):
        converted = str(item)
    if converted is None:
        raise ConfigError(f"{where}: {key}: {item!r} is not {_EXPECTED[base]}")
    if choices and converted not in choices:
        options = [str(choice) for choice in choices]
        raise ConfigError(
            f"{where}: {key}: {item!r} is not one of {', '.join(options)}{did_you_mean(str(item), options)}"
        )
    return converted


def _parse_with_config(parser: ArgumentParser, args: list[str], namespace: Any) -> Any:
    """Flags over the ``--config`` file over the dataclass defaults; ``namespace.config`` is the result.

    Why two passes: the first finds ``--config`` exactly as argparse reads it (``--config=F``, an
    abbreviation, the last one given); the file's values then become the defaults of the second,
    so a flag wins wherever it stands. The defaults are put back afterwards.
    """
    args = _dashed(args, parser._option_string_actions)
    parser._check_options(args)
    first, _ = argparse.ArgumentParser.parse_known_args(parser, args, copy.copy(namespace))
    saved = dict(parser._defaults), {action: action.default for action in parser._actions}
    try:
        if first.config_file:
            parser.set_defaults(**read_config_file(first.config_file, parser.config_class, parser.prog))
        namespace, extras = argparse.ArgumentParser.parse_known_args(parser, args, namespace)
    finally:
        parser._defaults = saved[0]
        for action, default in saved[1].items():
            action.default = default
    namespace.config = _config_from(parser, namespace)
    return namespace, extras


def _config_from(parser: ArgumentParser, namespace: argparse.Namespace) -> Any:
    fields = dataclasses.fields(parser.config_class)
    values = {field.name: getattr(namespace, field.name) for field in fields}
    missing = [_flag(field.name) for field in fields if _required(field) and values[field.name] is None]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)} (as flags or in a --config "
            f"file; see `{parser.prog} --help`)",
            parser.prog,
        )
    try:
        return parser.config_class(**values)
    except (TypeError, ValueError) as err:  # a __post_init__ that refuses a combination
        raise ConfigError(f"invalid {parser.prog} configuration: {one_line(err)}") from None


__all__ = [
    "add_config_arguments",
    "config_yaml",
    "load_yaml_mapping",
    "parse_config",
    "public_config",
    "read_config_file",
    "recording_config",
    "string_to_bool",
]
