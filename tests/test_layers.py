"""Packages import downward only: core -> llm client -> stages -> cards/hub -> CLI and quickstart.

A stage never imports another stage. Every import in ``bioinstruct/`` is read (module level and
inside functions alike); the few edges not fixed yet are listed in KNOWN with the reason, so this
test fails both on a new upward or sideways import and on a listed one that has gone (remove it).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bioinstruct"

#: top-level module or package of bioinstruct -> layer (a lower number is a lower layer)
LAYERS = {
    **dict.fromkeys(
        (
            "errors",
            "jsonio",
            "secrets",
            "schemas",
            "formatting",
            "resources",
            "models",
            "offline",
            "threads",
            "config_files",
            "config_record",
            "quiet",
            "argparsing",
            "cli_args",
            "plots",
            "card_templates",
            "__init__",
        ),
        0,
    ),  # fmt: skip
    # shared services: the LLM client, benchmark declarations and rows, ROUGE-L similarity
    **dict.fromkeys(("llm", "benchmarks", "similarity"), 1),
    **dict.fromkeys(("generation", "decontamination", "evaluation", "training"), 2),
    **dict.fromkeys(("cards", "hub", "hub_upload", "viewer"), 3),
    **dict.fromkeys(
        (
            "cli",
            "commands",
            "quickstart",
            "quickstart_data",
            "quickstart_model",
            "quickstart_outputs",
            "quickstart_verdict",
        ),
        4,
    ),
    "testing": 4,  # test helpers (servers) may use everything
}
STAGES = {"generation", "decontamination", "evaluation", "training"}

#: (importing package, imported package): why it is still there
KNOWN = {}


def _unit(module: str) -> str | None:
    """``bioinstruct.llm.client`` -> ``generation``; None for a module outside the package."""
    parts = module.split(".")
    if parts[0] != "bioinstruct":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _edges() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _unit(".".join(relative.parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            )
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _unit(name)
                if target and source and target != source:
                    found.setdefault((source, target), []).append(f"{relative.as_posix()}:{node.lineno}")
    return found


def _violations() -> dict[tuple[str, str], list[str]]:
    bad = {}
    for (source, target), where in _edges().items():
        assert source in LAYERS and target in LAYERS, f"add {source!r} or {target!r} to LAYERS"
        upward = LAYERS[target] > LAYERS[source]
        sideways = source in STAGES and target in STAGES
        if upward or sideways:
            bad[(source, target)] = where
    return bad


def test_no_upward_or_sideways_imports_beyond_the_known_ones():
    bad = _violations()
    new = {edge: where for edge, where in bad.items() if edge not in KNOWN}
    assert not new, f"imports against the layering: {new}"
    gone = sorted(edge for edge in KNOWN if edge not in bad)
    assert not gone, f"fixed, remove from KNOWN: {gone}"


def test_no_import_circles_between_packages():
    graph: dict[str, set[str]] = {}
    for source, target in _edges():
        graph.setdefault(source, set()).add(target)
    circles = sorted(
        (a, b) for a, targets in graph.items() for b in targets if a in graph.get(b, set()) and a < b
    )
    assert not circles, f"packages importing each other: {circles}"
