"""What the test Hub of :mod:`bioinstruct.testing.hub_server` holds: repos, their files and commits,
the requests it received, and the Hub's error shape.

Why apart from the server: this is the Hub's data model (what a commit does to a repo, which
``oid`` a file has) with no HTTP in it, so the route handlers only parse requests and answer, and a
test inspecting the result reads these plain dataclasses. ``hub_server`` re-exports every name.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's ``oid``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class RecordedRequest:
    """One request as received. ``headers`` has lower-case names and no ``authorization`` entry;
    ``auth`` says what that header held: ``"valid"``, ``"invalid"`` or ``"missing"``; ``status`` is
    the status the server answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    auth: str
    status: int = 0


@dataclass
class Commit:
    """One commit on main: its NDJSON header's summary and description, and the paths it wrote."""

    oid: str
    summary: str
    description: str
    paths: list[str]


@dataclass
class HubRepo:
    """A repo held in memory: its visibility, committed files (bytes) and commit history."""

    repo_type: str
    repo_id: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    lfs_paths: set[str] = field(default_factory=set)
    commits: list[Commit] = field(default_factory=list)

    @property
    def head(self) -> str:
        if self.commits:
            return self.commits[-1].oid
        return hashlib.sha1(f"{self.repo_type}/{self.repo_id}".encode()).hexdigest()

    def oid(self, path: str) -> str | None:
        """What preupload reports for a file already in the repo (None when it is not)."""
        if path not in self.files:
            return None
        data = self.files[path]
        return hashlib.sha256(data).hexdigest() if path in self.lfs_paths else git_blob_oid(data)

    def apply_commit(
        self, header: dict[str, Any], operations: list[dict[str, Any]], lfs_objects: dict[str, bytes]
    ) -> Commit:
        """Apply a commit's ``file`` (base64) and ``lfsFile`` (an uploaded LFS object) lines to main,
        all or nothing: any bad line is a HubError and leaves the repo as it was."""
        files, lfs_paths = dict(self.files), set(self.lfs_paths)
        for line in operations:
            key, value = line.get("key"), line.get("value", {})
            path = str(value.get("path", ""))
            if not path or path.startswith("/") or ".." in path.split("/"):
                raise HubError(400, f"invalid path {path!r}")
            if key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, f"{path}: unsupported encoding {value.get('encoding')!r}")
                files[path] = base64.b64decode(value["content"], validate=True)
                lfs_paths.discard(path)
            elif key == "lfsFile":
                if value.get("algo") != "sha256" or value.get("oid") not in lfs_objects:
                    raise HubError(400, f"{path}: LFS object {value.get('oid')} was never uploaded")
                files[path] = lfs_objects[value["oid"]]
                lfs_paths.add(path)
            else:
                raise HubError(400, f"unknown commit operation {key!r}")
        changed = [json.dumps(line, sort_keys=True) for line in operations]
        oid = hashlib.sha1("\n".join([self.head, *changed]).encode()).hexdigest()
        self.files, self.lfs_paths = files, lfs_paths
        paths = [str(line["value"]["path"]) for line in operations]
        commit = Commit(oid, header["summary"], header.get("description", ""), paths)
        self.commits.append(commit)
        return commit


class HubError(Exception):
    """An HTTP error answer, shaped like the Hub's (JSON ``error`` plus ``X-Error-*`` headers)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
