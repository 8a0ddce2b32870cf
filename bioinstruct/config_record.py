"""The effective config of a ``generate`` or ``evaluate`` run, written next to the run without credentials.

Why apart from :mod:`bioinstruct.config_files` (which reads flags and ``--config`` files into the
dataclass): writing is the other direction and has its own rules. What a file records must rerun
the run, yet must never hold a secret: a field named like a credential is left out, a URL is written
without its user, password or query string, a value shaped like a key (or holding one this process
can see) is dropped with a warning. And the file must not outlive a run that failed on a user's
mistake (:func:`recording_config`). ``config_files`` re-exports these names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.jsonio import write_text_atomically
from bioinstruct.secrets import SECRET_FIELD, looks_like_key, public_url

logger = logging.getLogger("bioinstruct.config_files")  # where these warnings have always been logged


def public_config(config: Any, file_name: str = "the config file") -> dict[str, Any]:
    """The config's fields as YAML-ready values, without credentials.

    A field named like a credential is left out; a URL with a user, password, query or fragment is
    written as its public form (with a warning: a rerun needs the full URL again); a value shaped
    like a key, or holding the value of a credential this process can see (OPENAI_API_KEY, HF_TOKEN,
    ...), is left out (with a warning).
    """
    from bioinstruct.secrets import known_secrets

    secrets = [value for _, value in known_secrets()]
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        if SECRET_FIELD.search(field.name):
            continue
        value = getattr(config, field.name)
        cleaned = [
            _public_item(field.name, item, file_name)
            for item in (value if isinstance(value, list) else [value])
        ]
        texts = [item for item in cleaned if isinstance(item, str)]
        if any(looks_like_key(text) or any(secret in text for secret in secrets) for text in texts):
            logger.warning(
                "%s looks like it holds a credential; it is not written to %s", field.name, file_name
            )
            continue
        out[field.name] = cleaned if isinstance(value, list) else cleaned[0]
    return out


def _public_item(name: str, item: Any, file_name: str) -> Any:
    if not isinstance(item, str) or "://" not in item:
        return item
    try:
        parts = urlsplit(item)
        if not (parts.username or parts.password or parts.query or parts.fragment):
            return item
        public = public_url(item)
    except ValueError:  # not a URL after all (an invalid port or IPv6 host): checked as text
        return item
    logger.warning(
        "%s holds credentials or a query string; %s records it as %s (give the full URL again with %s "
        "when rerunning)",
        name,
        file_name,
        public,
        "--" + name.replace("_", "-"),
    )
    return public


def config_yaml(config: Any, header: str = "", file_name: str = "the config file") -> str:
    """The config as YAML, in field order, after ``header`` (comment lines)."""
    import yaml

    body = yaml.safe_dump(
        public_config(config, file_name), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    return comments + body


@contextlib.contextmanager
def recording_config(
    config: Any, path: str | Path, header: str = "", *, keep_on_error: Callable[[], bool] | None = None
) -> Iterator[Path]:
    """Write the effective ``config`` to ``path`` (creating its folder), then run the ``with`` body.

    A body that fails with a :class:`BioInstructError` (a user's mistake, exit code 2) leaves ``path``
    as it was: the previous file back, or none and no new empty folder, unless ``keep_on_error()``
    says the run had started. Any other exit (success, Ctrl-C, a crash) keeps the new file: the run
    it describes resumes from it.
    """
    path = Path(path)
    folder_existed = path.parent.exists()
    try:
        previous = path.read_bytes() if path.is_file() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, config_yaml(config, header, path.name))
    except OSError as err:
        raise ConfigError(
            f"output_dir {str(path.parent)!r} cannot be used as a run folder: {err.strerror or err}"
        ) from None
    try:
        yield path
    except BioInstructError:
        if keep_on_error is None or not keep_on_error():
            with contextlib.suppress(OSError):
                if previous is not None:
                    path.write_bytes(previous)
                else:
                    path.unlink(missing_ok=True)
                    if not folder_existed:
                        path.parent.rmdir()  # only if the failed run left it empty
        raise
