"""Built-in benchmark declarations; importing this package registers them.

QA and NLI (``qa.py``, ``nli.py``) come first; information extraction and generation
(``ie.py``, ``gen.py``) are registered when present.
"""

from __future__ import annotations

import importlib
import importlib.util

# Registration order is the order of `bioinstruct benchmarks` and of the groups.
for _module in ("qa", "nli", "ie", "gen", "instructions"):
    if importlib.util.find_spec(f"{__name__}.{_module}") is not None:
        importlib.import_module(f"{__name__}.{_module}")
