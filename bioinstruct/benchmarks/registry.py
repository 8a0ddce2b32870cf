"""The benchmark registry: declarations read from YAML, looked up by name or group.

Adding a benchmark is one YAML file (lm-eval's ``--include_path`` idea)::

    # mmlu_virology.yaml
    name: mmlu_virology
    groups: [mmlu_more]
    task: multiple_choice
    hub: {path: cais/mmlu, name: virology, split: test}
    fewshot_hub: {path: cais/mmlu, name: virology, split: dev}
    to_item: multiple_choice
    instruction: Answer the multiple-choice question about virology.

then ``register_yaml("mmlu_virology.yaml")`` (or a folder of them; ``bioinstruct evaluate
--include-path DIR``). A file may hold several declarations (YAML documents separated by
``---``), and ``include: base.yaml`` takes a file's keys as defaults (a family's shared fields).
The built-in declarations are ``tasks/*.yaml``, read on first use in ``BUILTIN_FILES`` order,
which is the order of ``bioinstruct benchmarks`` and of every group.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bioinstruct.benchmarks.declaration import Benchmark, HubSource
from bioinstruct.errors import ConfigError, did_you_mean

#: The bundled declaration files (``tasks/<name>.yaml``), in listing order.
BUILTIN_FILES = ("qa", "mmlu", "nli", "ner", "relation", "clinical", "generation", "instructions")

_REGISTRY: dict[str, Benchmark] = {}
_BUILTINS_LOADED = False
#: The fields a YAML declaration may hold, with their types (the scorer's functions come by name, in
#: ``metric``; ``corpus_metrics``/``item_score``/``ci`` callables only from Python).
_YAML_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "groups": (list, str), "task": str, "to_item": str, "instruction": str, "preamble": str,
    "options": dict, "hub": dict, "fewshot_hub": dict, "read_local": str, "how_to_get": str, "items_note": str,
    "local_items_note": str, "description": str, "max_new_tokens": int, "default_num_fewshot": int,
    "metric": str, "primary_metric": str, "judge_axes": list, "citation": str,
}  # fmt: skip
_FIELDS = set(_YAML_FIELDS)


def register_benchmark(benchmark: Benchmark | Callable[[], Benchmark]) -> Any:
    """Add a benchmark. Call with a ``Benchmark``, or decorate a function that returns one."""
    declared = benchmark() if callable(benchmark) and not isinstance(benchmark, Benchmark) else benchmark
    if not isinstance(declared, Benchmark):
        raise ConfigError(f"register_benchmark expects a Benchmark, got {type(declared).__name__}")
    if declared.name in _group_names():
        raise ConfigError(f"benchmark name {declared.name!r} clashes with a group name")
    _REGISTRY[declared.name] = declared
    return benchmark


def _yaml_documents(path: Path) -> list[tuple[dict[str, Any], int, dict[str, int]]]:
    """The mappings of a YAML file with the line each starts on and the line of each key; a YAML
    error names ``file:line``."""
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        documents = list(yaml.safe_load_all(text))
    except OSError as err:
        raise ConfigError(f"benchmark declaration {str(path)!r}: cannot read it ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}") from None
    found = []
    for node, document in zip(nodes, documents, strict=True):
        line = node.start_mark.line + 1 if node is not None else 1
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ConfigError(
                f"{path}:{line}: a benchmark declaration is a mapping of fields, got {document!r}"
            )
        keys = {str(key.value): key.start_mark.line + 1 for key, _ in getattr(node, "value", [])}
        found.append((document, line, keys))
    return found


def declaration_from_mapping(
    fields: dict[str, Any], where: str, key_lines: dict[str, int] | None = None
) -> Benchmark:
    """A :class:`Benchmark` from a YAML mapping; a wrong key or value is one line naming ``where``
    (``file:line`` of the declaration), or the line of the field when ``key_lines`` knows it."""
    fields = dict(fields)
    file = where.rpartition(":")[0] or where

    def at(key: str) -> str:
        return f"{file}:{key_lines[key]}" if key_lines and key in key_lines else where

    unknown = sorted(set(fields) - _FIELDS)
    for key in unknown:
        raise ConfigError(
            f"{at(key)}: unknown field {key!r}{did_you_mean(key, _FIELDS)}; fields: {', '.join(sorted(_FIELDS))}"
        )
    missing = [key for key in ("name", "task", "to_item") if key not in fields]
    if missing:
        raise ConfigError(f"{where}: a benchmark declaration needs {', '.join(missing)}")
    for key, value in fields.items():
        expected = _YAML_FIELDS[key]
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            kinds = " or ".join(
                kind.__name__ for kind in (expected if isinstance(expected, tuple) else (expected,))
            )
            raise ConfigError(f"{at(key)}: {key} must be a {kinds}, got {value!r}")
    for key, least in (("max_new_tokens", 1), ("default_num_fewshot", 0)):
        if key in fields and fields[key] < least:
            raise ConfigError(f"{at(key)}: {key} must be at least {least}, got {fields[key]}")
    if fields["task"] == "multiple_choice" and fields.get("primary_metric", "accuracy") != "accuracy":
        raise ConfigError(
            f"{where}: a multiple_choice benchmark is scored by accuracy, not {fields['primary_metric']!r}"
        )
    for key in ("hub", "fewshot_hub"):
        value = fields.get(key)
        if isinstance(value, dict):
            try:
                fields[key] = HubSource(**value)
            except TypeError:
                raise ConfigError(
                    f"{at(key)}: {key} takes path, name and split, got {sorted(value)}"
                ) from None
        elif value is not None:
            raise ConfigError(f"{at(key)}: {key} must be a mapping {{path, name, split}}, got {value!r}")
    fields.setdefault("groups", ())
    try:
        return Benchmark(**fields, declared_in=where)
    except ConfigError as err:
        message = str(err).removeprefix(f"benchmark {fields['name']!r}: ")
        field = next(
            (key for key in ("to_item", "read_local", "metric", "task") if message.startswith(key)), ""
        )
        raise ConfigError(f"{at(field)}: {message}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None


def read_declarations(path: str | Path) -> list[Benchmark]:
    """The declarations of one YAML file (``include:`` files give defaults)."""
    path = Path(path)
    benchmarks = []
    for document, line, key_lines in _yaml_documents(path):
        fields: dict[str, Any] = {}
        if "include" in document:
            included = path.parent / str(document.pop("include"))
            try:
                bases = _yaml_documents(included)
            except ConfigError as err:
                raise ConfigError(f"{path}:{key_lines.get('include', line)}: include: {err}") from None
            if len(bases) != 1:
                raise ConfigError(f"{path}:{line}: include {str(included)!r} must hold one mapping")
            fields.update(bases[0][0])
        fields.update(document)
        benchmarks.append(declaration_from_mapping(fields, f"{path}:{line}", key_lines))
    return benchmarks


def register_yaml(path: str | Path) -> list[Benchmark]:
    """Register the declarations of a YAML file, or of every ``*.yaml`` in a folder (not ``_*.yaml``,
    which are ``include:`` bases). Returns them; a later declaration of a name replaces the earlier."""
    _load_builtins()
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.y*ml") if not p.name.startswith("_"))
        if not files:
            raise ConfigError(f"no benchmark declarations (*.yaml) in folder {str(path)!r}")
    else:
        files = [path]
    declared = [bench for file in files for bench in read_declarations(file)]
    seen: dict[str, Benchmark] = {}
    for bench in declared:
        # the same file registered again (a rerun from evaluate.yaml) replaces its own declarations
        before = seen.get(bench.name) or _REGISTRY.get(bench.name)
        if before is not None and (bench.name in seen or _file_of(before) != _file_of(bench)):
            where = f"declared in {before.declared_in}" if before.declared_in else "registered from Python"
            raise ConfigError(
                f"{bench.declared_in}: benchmark {bench.name!r} is already {where}; give yours another name"
            )
        seen[bench.name] = bench
    for bench in declared:
        register_benchmark(bench)
    return declared


def _file_of(bench: Benchmark) -> str | None:
    return bench.declared_in.rpartition(":")[0] if bench.declared_in else None


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    folder = resources.files(__package__).joinpath("tasks")
    for name in BUILTIN_FILES:
        with resources.as_file(folder.joinpath(f"{name}.yaml")) as file:
            for bench in read_declarations(file):
                register_benchmark(bench)


def _group_names() -> set[str]:
    return {group for bench in _REGISTRY.values() for group in bench.groups}


def list_benchmarks(group: str | None = None) -> list[Benchmark]:
    """All registered benchmarks (optionally one group), in registration order."""
    _load_builtins()
    return [bench for bench in _REGISTRY.values() if group is None or group in bench.groups]


def list_groups() -> dict[str, list[str]]:
    """Group name -> benchmark names."""
    _load_builtins()
    groups: dict[str, list[str]] = {}
    for bench in _REGISTRY.values():
        for group in bench.groups:
            groups.setdefault(group, []).append(bench.name)
    return groups


def is_benchmark(name: str) -> bool:
    _load_builtins()
    return name in _REGISTRY


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; a typo gets a "did you mean" suggestion."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = sorted(_REGISTRY) + sorted(list_groups())
    lowered = {k.lower(): k for k in known}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ConfigError(f"unknown benchmark {name!r}; {hint}known: {', '.join(known)}")


def split_names(spec: str | Iterable[str]) -> list[str]:
    """``"medqa, pubmedqa"`` or ``["medqa"]`` -> the names, stripped, empty ones dropped."""
    return [part.strip() for part in (spec.split(",") if isinstance(spec, str) else spec) if part.strip()]


def resolve_benchmarks(spec: str | Sequence[str]) -> list[Benchmark]:
    """Expand names and groups (``"medqa,pubmedqa"``, ``"qa"``, ``["paper"]``), keeping order, no repeats."""
    names = split_names(spec)
    if not names:
        raise ConfigError("no benchmark given; run `bioinstruct benchmarks` to list them")
    groups = list_groups()
    resolved: dict[str, Benchmark] = {}
    for name in names:
        if name in groups and name not in _REGISTRY:
            for member in groups[name]:
                resolved.setdefault(member, _REGISTRY[member])
        else:
            resolved.setdefault(name, get_benchmark(name))
    return list(resolved.values())
