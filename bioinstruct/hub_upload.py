"""Get a staged folder to the Hub (``create_repo`` + ``upload_folder``) or to a ``--dry-run`` folder.

Why one staged folder for both: the dry run is only worth something if it is exactly what would be
uploaded, so both paths build the same folder with the same code, and only the last step differs.
Before either, every file is checked for credentials (the values of HF_TOKEN, OPENAI_API_KEY and
friends, the cached Hub login, and, outside tokenizer vocabularies, anything shaped like a Hub or
OpenAI key): a card or a config that picked one up is refused, naming the file and the variable,
never the value.

Dry-run folders are replaced atomically: the new folder is staged next to the target and renamed
into place, so an interrupted run never leaves a half-written folder. An existing target is only
replaced when it is empty or an earlier dry run (a bioinstruct card and nothing but the files a
push writes); anything else is refused, so a typo cannot delete a training output folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import yaml

from bioinstruct.errors import BioInstructError, ConfigError
from bioinstruct.secrets import assert_no_secrets

logger = logging.getLogger(__name__)


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if the Hub would accept it as ``namespace/name``, else one line saying why."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise ConfigError(f"repo_id {repo_id!r} must look like 'namespace/name'")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ConfigError(
            f"repo_id {repo_id!r} must look like 'namespace/name' ({str(err).splitlines()[0]})"
        ) from None
    return repo_id


def _is_bioinstruct_card(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
        header = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else None
    except (OSError, UnicodeDecodeError, IndexError, yaml.YAMLError):
        return False
    return isinstance(header, dict) and "bioinstruct" in (header.get("tags") or [])


def check_dry_run_target(target: Path, names: Collection[str]) -> None:
    """Accept a new, empty, or earlier dry-run folder (a bioinstruct README.md and only ``names``)."""
    if not target.exists():
        parent = next((p for p in target.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ConfigError(f"--dry-run {str(target)!r}: {str(parent)!r} is a file, not a folder")
        return
    if not target.is_dir():
        raise ConfigError(f"--dry-run {str(target)!r} exists and is not a folder")
    present = {entry.name for entry in target.iterdir()}
    if not present:
        return
    unexpected = sorted(present - set(names))
    if not unexpected and _is_bioinstruct_card(target / "README.md"):
        return
    why = f"holds {', '.join(unexpected[:4])}" if unexpected else "has no bioinstruct README.md"
    raise ConfigError(
        f"--dry-run folder {str(target)!r} is not empty and is not an earlier dry run ({why}); "
        "pass a new or empty folder"
    )


def _move_into_place(staging: Path, target: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp made it private to this user; a dry run is a normal folder
    if not target.exists():
        os.rename(staging, target)
        return
    holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, holder / target.name)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(holder / target.name, target)
        raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _upload(api: Any, folder: Path, repo_id: str, repo_type: str, private: bool, message: str) -> str:
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    try:  # huggingface_hub's HTTP stack: its connection errors are not OSErrors
        from httpx2 import TransportError as _TransportError
    except ImportError:  # pragma: no cover - another huggingface_hub stack
        _TransportError = OSError

    where = f"pushing to {repo_type} repo {repo_id!r}"
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), repo_type=repo_type, commit_message=message
        )
    except LocalTokenNotFoundError:
        raise ConfigError(
            f"{where} failed: no Hugging Face token; run `hf auth login` or set HF_TOKEN"
        ) from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        reason = _one_line(getattr(err, "server_message", None) or str(err))
        if status == 401:  # no token sent (logged out), or a token the Hub does not accept
            raise ConfigError(
                f"{where} failed (HTTP 401, {reason}): log in with `hf auth login` or set HF_TOKEN to a token "
                "with write access"
            ) from None
        raise BioInstructError(f"{where} failed (HTTP {status}): {reason}") from None
    except ValueError as err:  # the Hub's metadata validation refused README.md's YAML front matter
        raise BioInstructError(f"{where} failed: {_one_line(str(err))}") from None
    except (ConnectionError, TimeoutError, _TransportError) as err:  # no network, HF_HUB_OFFLINE=1, DNS, TLS
        raise BioInstructError(f"{where} failed: cannot reach the Hub ({_one_line(str(err))})") from None
    except OSError as err:  # the Hub answered, but a transfer (LFS/Xet storage, local file) failed
        raise BioInstructError(f"{where} failed: {type(err).__name__}: {_one_line(str(err))}") from None
    return str(getattr(info, "commit_url", None) or getattr(info, "repo_url", "") or repo_id)


def _one_line(text: str) -> str:
    """An error's lines joined, so the Hub's reason (often on a later line) is not cut off."""
    return (
        " ".join(line.strip(" -") for line in str(text).splitlines() if line.strip(" -"))[:500]
        or "no details"
    )


def publish(
    build: Callable[[Path], str],
    repo_id: str,
    *,
    repo_type: str,
    names: Collection[str],
    private: bool = True,
    token: str | None = None,
    api: Any = None,
    dry_run: str | Path | None = None,
) -> str:
    """Stage a folder with ``build(folder) -> commit message``, then upload it or write it to ``dry_run``.

    Returns the commit URL, or the dry-run folder's path. ``names``: the top-level entries a push
    writes (what an earlier dry run may hold).
    """
    check_repo_id(repo_id)
    target = Path(dry_run) if dry_run is not None else None
    if target is not None:
        check_dry_run_target(target, names)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    else:
        staging = Path(tempfile.mkdtemp(prefix="bioinstruct-push-"))
    try:
        message = build(staging)
        assert_no_secrets(staging, token)
        if target is not None:
            _move_into_place(staging, target)
            logger.debug("dry run: wrote the folder a push to %s would upload to %s", repo_id, target)
            return str(target)
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
        url = _upload(api, staging, repo_id, repo_type, private, message)
        logger.debug("pushed to %s repo %s (%s)", repo_type, repo_id, "private" if private else "public")
        return url
    finally:
        shutil.rmtree(staging, ignore_errors=True)
