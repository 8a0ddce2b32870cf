"""Decide once, quickly, whether the Hugging Face Hub can be reached.

Why: on a machine without network, ``huggingface_hub`` and ``datasets`` retry each miss with
back-off (48 s and 44 lines of "Retrying in 8s" for one ``decontaminate`` call). Every stage asks
this module first; when the Hub is unreachable it switches the libraries to their offline mode
for the rest of the process, so a miss fails in milliseconds with the stage's own one-line error.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from urllib.parse import urlparse

_TRUE = {"1", "true", "yes", "on"}
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline_by_environment() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` and friends)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in _OFFLINE_VARIABLES)


def _hub_host_port() -> tuple[str, int]:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.hostname or "huggingface.co", port


@lru_cache(maxsize=1)
def _probe(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub (``HF_ENDPOINT``) answers a TCP connection within ``timeout`` seconds.

    ``HF_HUB_OFFLINE=1`` (or the datasets/transformers equivalents) answers False without any
    traffic. The probe runs once per process; a proxy (``HTTPS_PROXY``) is trusted to reach it.
    """
    if offline_by_environment():
        return False
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    host, port = _hub_host_port()
    return _probe(host, port, timeout)


def ensure_offline_mode_if_unreachable(timeout: float = 3.0) -> bool:
    """Put huggingface_hub, datasets and transformers in offline mode when the Hub is unreachable.

    Returns True when running offline. Sets the environment variables (read by libraries imported
    later) and the already-imported libraries' constants, so cached files still load and misses
    fail at once instead of retrying.
    """
    if hub_reachable(timeout):
        return False
    for name in _OFFLINE_VARIABLES:
        os.environ.setdefault(name, "1")
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = True
        if hasattr(config, "HF_DATASETS_OFFLINE"):
            config.HF_DATASETS_OFFLINE = True
    return True
