"""Start and stop Hugging Face's own OpenAI-compatible server (``transformers serve``) on 127.0.0.1.

Why: our fake servers answer what we scripted; a real server answers what a real model writes,
ignores ``response_format``, keeps generating after a client gives up, runs one generation at
a time and reports errors the FastAPI way (``{"detail": ...}``). Tests and benchmarks that must
prove the stack survives that use this helper::

    with TransformersServer(model_dir) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="local")
        client.chat.completions.create(model=server.model_id, messages=[...])

The model id the server expects is the path it serves; :attr:`model_id` is read back from
``GET /v1/models`` rather than assumed. ``stop()`` terminates the process group, then kills it,
so no server outlives its test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Self


class ServerUnavailable(RuntimeError):
    """``transformers serve`` is not installed (the ``transformers[serving]`` extra is missing)."""


def serve_command() -> list[str]:
    """The command that runs ``transformers serve``, or :class:`ServerUnavailable` with the install hint."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ServerUnavailable(
            f"transformers serve needs FastAPI and Uvicorn ({err.name} missing): "
            "pip install 'transformers[serving]'"
        ) from err
    exe = shutil.which(
        "transformers", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    )
    if exe is None:
        raise ServerUnavailable(
            "the `transformers` command is not on PATH: pip install 'transformers[serving]'"
        )
    return [exe, "serve"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL the server when the process that started it dies (even by ``kill -9``),
    so a killed test run leaves no server holding a core."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class TransformersServer:
    """One ``transformers serve <model_dir>`` process on ``host:port``; a context manager.

    ``continuous_batching`` lets the server interleave several generations (otherwise it runs
    one at a time). The server samples only where the model's ``generation_config.json`` says
    ``do_sample`` (a request's ``temperature`` is otherwise ignored: greedy decoding, the same
    reply to the same prompt); ``sampling=True`` serves a copy of the folder (links to its
    files) whose generation config turns sampling on, so ``temperature`` > 0 takes effect. ``extra_args`` go to the command line unchanged. :meth:`start` waits up to
    ``startup_timeout`` seconds for ``GET /v1/models``; if the process dies or the wait runs out
    it raises ``RuntimeError`` with the tail of the server's output.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        continuous_batching: bool = False,
        startup_timeout: float = 180.0,
        extra_args: Sequence[str] = (),
        seed: int | None = 0,
        sampling: bool = False,
    ) -> None:
        self._sampling_dir: tempfile.TemporaryDirectory[str] | None = None
        if sampling:
            model_dir = self._sampling_copy(Path(model_dir).resolve())
        self.model_dir = str(Path(model_dir).resolve())
        self.host = host
        self.port = port or free_port(host)
        self.continuous_batching = continuous_batching
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.seed = seed
        self.model_id: str = self.model_dir
        self._process: subprocess.Popen[bytes] | None = None
        # Open for the server's whole life (it is the child's stdout), closed in stop().
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="transformers-serve-", suffix=".log", delete=False
        )

    def _sampling_copy(self, source: Path) -> Path:
        self._sampling_dir = tempfile.TemporaryDirectory(prefix="serve-sampling-")
        target = Path(self._sampling_dir.name) / source.name
        target.mkdir()
        for entry in source.iterdir():
            if entry.name != "generation_config.json":
                (target / entry.name).symlink_to(entry)
        config_path = source / "generation_config.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        config["do_sample"] = True
        (target / "generation_config.json").write_text(json.dumps(config, indent=2))
        return target

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` (ends in ``/v1``)."""
        return f"{self.root_url}/v1"

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def command(self) -> list[str]:
        cmd = [*serve_command(), self.model_dir, "--host", self.host, "--port", str(self.port)]
        cmd.append("--continuous-batching" if self.continuous_batching else "--no-continuous-batching")
        if self.seed is not None:
            cmd += ["--default-seed", str(self.seed)]
        return cmd + self.extra_args

    def log_tail(self, chars: int = 2000) -> str:
        """The last ``chars`` characters the server wrote (stdout and stderr together)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-chars:]

    def _models(self) -> list[str] | None:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return [str(item.get("id")) for item in body.get("data", []) if isinstance(item, dict)]

    def start(self) -> Self:
        env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), PYTHONUNBUFFERED="1")
        self._process = subprocess.Popen(  # noqa: S603 - fixed command, local model path
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: stop() reaches uvicorn's workers too
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(
                    f"transformers serve exited with code {code} before answering; its output ends:\n"
                    f"{self.log_tail()}"
                )
            models = self._models()
            if models:
                self.model_id = self.model_dir if self.model_dir in models else models[0]
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"transformers serve did not answer GET /v1/models within {self.startup_timeout:.0f} s; "
            f"its output ends:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, wait ``grace`` seconds, then SIGKILL it. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=grace)
        with contextlib.suppress(OSError):
            self._log.close()
        if self._sampling_dir is not None:
            self._sampling_dir.cleanup()
            self._sampling_dir = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a server behind
        with contextlib.suppress(Exception):
            self.stop(grace=2.0)
