"""What the console shows: our own progress and one-line summaries, not the libraries' chatter.

Why one module: the noise of a run comes from five libraries, each with its own switch
(transformers' and datasets' verbosity variables, absl's and accelerate's loggers, Python
warnings, tqdm). The policy is applied once, by the CLI entry, before any of them is imported
(most read their switch at import), so every stage and the quickstart get the same console.

Quiet (the default):

- deprecation warnings from inside the libraries (``FutureWarning: is_gradient_checkpointing is
  deprecated``) are not shown: the user did not write that code and cannot act on them;
- transformers and datasets log errors only (``Token indices sequence length is longer than the
  specified maximum``: our backends cut prompts to fit and say so once per benchmark);
- absl (rouge_score's ``Using default tokenizer.``), accelerate (``The used dataset had no
  length`` on resume), the HTTP clients (one INFO line per request, with full URLs) and the
  Hub's retry messages are raised to WARNING;
- DeepSpeed's "Setting accelerator to CPU" (on stdout, every CPU run) is dropped;
- a progress bar draws only once its step has taken a second (``TQDM_DELAY``), so sub-second
  dataset steps draw nothing while evaluation and training still show theirs, with the ETA.

``-v`` keeps every library at its own default and shows each distinct warning once.
Values the user already set in the environment (``TRANSFORMERS_VERBOSITY=info``) win.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

#: Environment switches read by the libraries at import.
QUIET_ENVIRONMENT = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "TQDM_DELAY": "1",
}
#: Loggers that only say what the user cannot act on below WARNING.
QUIET_LOGGERS = ("absl", "accelerate", "httpx", "httpx2", "huggingface_hub", "filelock", "urllib3")
#: logger -> message starts dropped: set at import to a level of their own, so only a filter works.
#: DeepSpeed says "Setting accelerator to CPU. If you have GPU ..." on stdout on every CPU run.
DROPPED_MESSAGES = {"DeepSpeed": ("Setting accelerator to CPU",)}
#: Library loggers of the same libraries as QUIET_ENVIRONMENT, when they were imported already.
_LIBRARY_LOGGERS = {"transformers": logging.ERROR, "datasets": logging.ERROR}
_DEPRECATIONS = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)


class _DropMessages(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def quiet_http_logs() -> None:
    """The OpenAI and Hub clients' HTTP stacks log one INFO line per request, with the full URL
    (including any credentials embedded in a --base-url); only ``-v`` keeps them."""
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)


_APPLIED: list[bool] = []  # the verbose flag of the first apply() of this process


def ensure_applied() -> None:
    """Apply the quiet default unless the entry point already chose (``examples/sft.py`` under
    ``accelerate launch`` reaches the training stage without the ``bioinstruct`` entry)."""
    if not _APPLIED:
        apply(verbose=False)


def apply(verbose: bool = False) -> None:
    """Apply the console policy (see the module docstring); call it before importing the stages."""
    _APPLIED.append(verbose)
    if verbose:
        for category in _DEPRECATIONS:
            warnings.filterwarnings("once", category=category)
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for category in _DEPRECATIONS:
        warnings.filterwarnings("ignore", category=category)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name, starts in DROPPED_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(starts))
    for name, level in _LIBRARY_LOGGERS.items():
        if name in sys.modules and os.environ.get(f"{name.upper()}_VERBOSITY") == "error":
            logging.getLogger(name).setLevel(level)  # imported before us (e.g. in a test process)


__all__ = [
    "DROPPED_MESSAGES",
    "QUIET_ENVIRONMENT",
    "QUIET_LOGGERS",
    "apply",
    "ensure_applied",
    "quiet_http_logs",
]
