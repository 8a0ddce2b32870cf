"""Decide once, quickly, whether the Hugging Face Hub can be reached.

Why: on a machine without network, ``huggingface_hub`` and ``datasets`` retry each miss with
back-off (55 s and 20 lines of "Retrying in 8s" for one ``decontaminate`` call here). Every stage
asks this module first (the CLI before dispatching, the benchmark loaders before
``load_dataset``); when the Hub is unreachable it switches the libraries to their offline mode
for the rest of the process, so cached files still load and a miss fails in milliseconds with
the stage's own one-line error.

The probe is one TCP connection to ``HF_ENDPOINT`` (or to the ``HTTPS_PROXY`` in between), run
in a daemon thread so that a hanging DNS resolver cannot stall it past ``timeout`` either.
``HF_HUB_OFFLINE=1`` (or ``HF_DATASETS_OFFLINE``/``TRANSFORMERS_OFFLINE``) answers "offline"
without any traffic; ``HF_HUB_OFFLINE=0`` answers "online" without probing (a network where the
probe is wrong but the Hub works).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
DEFAULT_TIMEOUT = 3.0

#: (host, port) -> (reachable, why not); one probe per target per process.
_PROBED: dict[tuple[str, int], tuple[bool, str]] = {}
_LOCK = threading.Lock()


def offline_by_environment() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` and friends)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in _OFFLINE_VARIABLES)


def online_by_environment() -> bool:
    """True when the user said ``HF_HUB_OFFLINE=0`` explicitly: trust it, probe nothing."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _FALSE and not offline_by_environment()


def _host_port(url: str, default_host: str) -> tuple[str, int]:
    parsed = urlparse(url if "://" in url else f"http://{url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.hostname or default_host, port


def probe_target() -> tuple[str, int]:
    """What the probe connects to: the HTTPS proxy when one is set, else ``HF_ENDPOINT``."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        return _host_port(proxy, "localhost")
    return _host_port(os.environ.get("HF_ENDPOINT", "https://huggingface.co"), "huggingface.co")


def _connect(host: str, port: int, timeout: float, answer: list[tuple[bool, str]]) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            answer.append((True, ""))
    except OSError as err:
        answer.append((False, err.strerror or type(err).__name__))


def probe(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool, str]:
    """(reachable, reason) for one TCP connection to ``host:port``, bounded by ``timeout`` in all
    (name resolution included). Cached per target for the life of the process."""
    with _LOCK:
        if (host, port) in _PROBED:
            return _PROBED[(host, port)]
        answer: list[tuple[bool, str]] = []
        worker = threading.Thread(target=_connect, args=(host, port, timeout, answer), daemon=True)
        worker.start()
        worker.join(timeout)
        result = answer[0] if answer else (False, f"no answer within {timeout:g} s")
        _PROBED[(host, port)] = result
        return result


def hub_reachable(timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether the Hub (``HF_ENDPOINT``, through ``HTTPS_PROXY`` if set) answers within ``timeout`` s.

    The environment decides first (``HF_HUB_OFFLINE=1`` -> False, ``=0`` -> True, no traffic);
    otherwise one probe per process.
    """
    if offline_by_environment():
        return False
    if online_by_environment():
        return True
    host, port = probe_target()
    return probe(host, port, timeout)[0]


def ensure_offline_mode_if_unreachable(timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Put huggingface_hub, datasets and transformers in offline mode when the Hub is unreachable.

    Returns True when running offline. Sets the environment variables (read by libraries imported
    later) and the already-imported libraries' constants, so cached files still load and misses
    fail at once instead of retrying. Says so in one log line, the first time only.
    """
    if offline_by_environment():  # the libraries honour their own variables
        return True
    if hub_reachable(timeout):
        return False
    host, port = probe_target()
    reason = probe(host, port, timeout)[1]
    for name in _OFFLINE_VARIABLES:
        os.environ[name] = "1"
    _set_library_constants()
    logger.info(
        "the Hugging Face Hub is not reachable (%s:%d: %s); working offline from the local cache "
        "(set HF_HUB_OFFLINE=0 to skip this check)",
        host,
        port,
        reason,
    )
    return True


def _set_library_constants() -> None:
    """The libraries read their offline switch once at import; flip the ones already imported."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = True
        if hasattr(config, "HF_DATASETS_OFFLINE"):
            config.HF_DATASETS_OFFLINE = True


__all__ = ["hub_reachable", "ensure_offline_mode_if_unreachable", "offline_by_environment", "probe"]
