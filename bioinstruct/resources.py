"""Find the data files the package ships (card templates, accelerate configs, recipes, prompts).

Why: DESIGN.md keeps ``data_cards/``, ``accelerate_configs/`` and ``examples/recipes/`` at the
top of the repository, where users read them. The wheel copies them into
``bioinstruct/_data/`` so ``pip install bioinstruct`` works outside a checkout; in an
editable install or a checkout they are found next to the package instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bioinstruct.errors import BioInstructError

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_path(kind: str, name: str | None = None) -> Path:
    """Return the folder ``kind`` (e.g. ``"data_cards"``), or the file ``name`` inside it.

    Looks in the installed package data first, then in the source checkout.
    """
    candidates = [Path(str(resources.files("bioinstruct"))) / "_data" / kind, _REPO_ROOT / kind]
    if kind == "recipes":
        candidates.append(_REPO_ROOT / "examples" / "recipes")
    for folder in candidates:
        if folder.is_dir():
            if name is None:
                return folder
            if (folder / name).is_file():
                return folder / name
    where = f"{kind}/{name}" if name else kind
    raise BioInstructError(f"bundled data file {where!r} not found; is the bioinstruct install complete?")
