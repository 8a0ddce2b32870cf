"""Backends: what runs a model. The evaluator only talks to the small interface below.

Why one interface for transformers, OpenAI-compatible endpoints and vLLM: prompts, caching,
parsing and scoring are the same for all of them; a backend only turns rendered prompts into
log-likelihoods or generated text. Backends are imported lazily, so the CLI and the OpenAI
path never import torch.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bioinstruct.errors import ConfigError
from bioinstruct.evaluation.prompting import Prompt

#: Called with the number of requests just finished (drives the progress bar).
Progress = Callable[[int], None] | None

BACKENDS: dict[str, str] = {
    "hf": "bioinstruct.evaluation.backends.hf:HFBackend",
    "openai": "bioinstruct.evaluation.backends.openai:OpenAIBackend",
    "vllm": "bioinstruct.evaluation.backends.vllm:VLLMBackend",
}


class Backend(Protocol):
    """The interface every backend implements."""

    #: Model id or path, as the user gave it.
    model_name: str
    #: Whether ``loglikelihood`` is available (False for chat endpoints).
    supports_loglikelihood: bool

    def variants(self) -> list[str | None]:
        """``None`` (the bare base model) followed by the adapter labels, in order."""

    def set_variant(self, adapter: str | None) -> None:
        """Make ``adapter`` (or the bare base for ``None``) the active one."""

    def prompt_text(self, prompt: Prompt) -> str:
        """The exact text the model sees for ``prompt`` (chat templates applied)."""

    def loglikelihood(
        self, requests: Sequence[tuple[str, Sequence[str]]], progress: Progress = None
    ) -> list[list[float]]:
        """For each ``(context, continuations)``: the summed log-probability of each continuation."""

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        progress: Progress = None,
    ) -> list[str]:
        """Greedy generations, cut at the first stop string."""

    # Optional, for --protocol cot with --cot-samples k > 1 (hf, openai and vllm have it):
    # ``sample(prompts, *, n, temperature, max_new_tokens, stop=(), seed=0, progress=None)`` ->
    # ``n`` replies per prompt, drawn with ``sample_seed(seed, prompt_text)``.

    def info(self) -> dict[str, Any]:
        """Settings that belong in the protocol (dtype, device, endpoint, ...), never secrets."""

    def close(self) -> None:
        """Free resources (GPU memory, HTTP clients)."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    end = len(text)
    for marker in stop:
        if marker and (index := text.find(marker)) != -1:
            end = min(end, index)
    return text[:end]


def sample_seed(seed: int, text: str) -> int:
    """The sampling seed of one prompt: the run's seed and the prompt, so an item draws the same
    replies whatever else is in its batch, and a resumed run draws what the first would have."""
    return int(hashlib.sha256(f"{seed}\0{text}".encode()).hexdigest()[:8], 16)


def adapter_labels(adapters: Sequence[str] | None) -> list[tuple[str, str]]:
    """``(label, path)`` for each adapter: ``label=path`` as given, else the folder name (made unique)."""
    labelled: list[tuple[str, str]] = []
    for spec in adapters or []:
        label, sep, path = str(spec).partition("=")
        if not sep:
            path = str(spec)
            label = path.rstrip("/").split("/")[-1] or path
        base, n = label, 2
        while label in {existing for existing, _ in labelled}:
            label, n = f"{base}-{n}", n + 1
        labelled.append((label, path))
    return labelled


def make_backend(name: str, model: str, *, adapters: Sequence[str] | None = None, **options: Any) -> Backend:
    """Instantiate backend ``name`` (``hf``, ``openai`` or ``vllm``) for ``model``."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module_path, class_name = BACKENDS[name].split(":")
    backend_class = getattr(importlib.import_module(module_path), class_name)
    return backend_class(model, adapters=adapters, **options)


__all__ = ["BACKENDS", "Backend", "Progress", "adapter_labels", "cut_at_stop", "make_backend", "sample_seed"]
