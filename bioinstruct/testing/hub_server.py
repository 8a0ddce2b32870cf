"""A real HTTP server on 127.0.0.1 that speaks just enough of the Hugging Face Hub API for a push.

Why: ``bioinstruct push`` hands the work to ``HfApi.create_repo`` and ``HfApi.upload_folder``, and
those build their requests (preupload, base64 NDJSON commits, the LFS batch protocol, the README
metadata check) inside huggingface_hub's own HTTP stack. A fake ``api`` object only shows which
methods were called; this server lets tests run that real client code over a real socket, with
only ``endpoint`` changed, and then inspect what actually arrived: the repos created (type and
visibility), every file's bytes as committed, and every request, so a test can prove the token
went nowhere but the ``Authorization`` header.

Routes (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{prefix}`` is ``datasets/``,
``spaces/`` or nothing for models)::

    POST /api/repos/create                               create a repo (409 if it exists)
    POST /api/validate-yaml                              README.md front matter must be a YAML mapping
    GET  /api/{type}/{ns}/{name}[/revision/main]         repo info (sha, private, siblings)
    POST /api/{type}/{ns}/{name}/preupload/main          upload mode per file: "regular" or "lfs"
    POST /api/{type}/{ns}/{name}/commit/main             NDJSON commit: header, then file / lfsFile lines
    POST /{prefix}{ns}/{name}.git/info/lfs/objects/batch   LFS batch API ("basic" transfer)
    POST /{prefix}{ns}/{name}.git/info/lfs/objects/verify  LFS verify
    PUT  /lfs-storage/{key}                              the one-time upload URL the batch API hands out

Every route but the storage PUT needs ``Authorization: Bearer <token>`` with the token the server
was started with (401 otherwise, as the Hub answers a bad token). The storage URL is unauthenticated,
like the presigned S3 URL the Hub hands out; its key is random and single-use.

Upload modes: files of ``lfs_threshold`` bytes or more (10 MB, as on the Hub) or matching one of
``lfs_patterns`` are answered ``"lfs"``, everything else ``"regular"`` (base64 in the commit). Note
that huggingface_hub >= 1.0 uploads ``"lfs"`` files with Xet when ``hf_xet`` is installed, which
this server does not speak: a test that wants the LFS path sets ``HF_HUB_DISABLE_XET``.
Only the ``main`` branch exists; pull requests, deletions and copies are not supported (a push sends
none). Anything else gets a JSON 404, which huggingface_hub tolerates for its optional calls (e.g. the
agent-harness registry it may fetch from ``{endpoint}/api/agent-harnesses``).

:meth:`LocalHubServer.inject_error` makes the next matching request fail the way the Hub fails
(403 for a namespace the token cannot write to, 400 for rejected card metadata, 5xx).

This module is the HTTP side (routes, auth, injected errors); what the server holds (repos, their
files and commits, the recorded requests, ``HubError``) is :mod:`bioinstruct.testing.hub_repos`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from bioinstruct.testing.hub_repos import Commit, HubError, HubRepo, RecordedRequest, git_blob_oid
from bioinstruct.testing.local_http import LocalHTTPServer, TrackedHandler

# Re-exported: the data model lives in hub_repos.
__all__ = ["Commit", "HubError", "HubRepo", "LocalHubServer", "RecordedRequest", "git_blob_oid"]

HUB_LFS_THRESHOLD = 10 * 1024 * 1024
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_REPO = r"(?P<repo>[\w.\-]+/[\w.\-]+?)"
_API_REPO = rf"/api/(?P<type>models|datasets|spaces)/{_REPO}"
_GIT_REPO = rf"/(?:(?P<type>datasets|spaces)/)?{_REPO}\.git/info/lfs/objects"
INVALID_TOKEN = "Invalid credentials in Authorization header"
NO_TOKEN = "You must be authenticated to access this resource"


class LocalHubServer(LocalHTTPServer):
    """Threaded Hub server on an ephemeral port of 127.0.0.1.

    Use as a context manager::

        with LocalHubServer(token) as hub:
            api = HfApi(endpoint=hub.base_url, token=token)
            api.create_repo("my-org/bio", repo_type="dataset", private=True)
            api.upload_folder(repo_id="my-org/bio", repo_type="dataset", folder_path="out")
            assert hub.repo("my-org/bio", "dataset").private
            assert hub.files("my-org/bio", "dataset")["README.md"].startswith(b"---")

    Every request is appended to :attr:`requests` (thread-safe).
    """

    thread_name = "local-hub"

    def __init__(
        self,
        token: str,
        *,
        user: str = "bioinstruct-tester",  # the namespace of a repo created without an organization
        lfs_patterns: Iterable[str] = (),
        lfs_threshold: int = HUB_LFS_THRESHOLD,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.user = user
        self.lfs_patterns = tuple(lfs_patterns)
        self.lfs_threshold = lfs_threshold
        self.requests: list[RecordedRequest] = []
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self._pending_uploads: dict[str, tuple[str, int]] = {}
        self._injected: list[list[Any]] = []
        super().__init__(host, port)
        self._routes = [
            # method, path pattern, handler, whether the Hub token is required
            ("POST", re.compile(r"/api/repos/create"), self._create_repo, True),
            ("POST", re.compile(r"/api/validate-yaml"), self._validate_yaml, True),
            ("POST", re.compile(rf"{_API_REPO}/preupload/(?P<rev>[^/]+)"), self._preupload, True),
            ("POST", re.compile(rf"{_API_REPO}/commit/(?P<rev>[^/]+)"), self._commit, True),
            ("GET", re.compile(rf"{_API_REPO}(?:/revision/(?P<rev>[^/]+))?"), self._repo_info, True),
            ("POST", re.compile(rf"{_GIT_REPO}/batch"), self._lfs_batch, True),
            ("POST", re.compile(rf"{_GIT_REPO}/verify"), self._lfs_verify, True),
            ("PUT", re.compile(r"/lfs-storage/(?P<key>[0-9a-f]+)"), self._lfs_store, False),
        ]

    # ------------------------------------------------------------------ lifecycle and inspection

    @property
    def base_url(self) -> str:
        """The Hub endpoint: pass it as ``HfApi(endpoint=...)`` or ``HF_ENDPOINT``."""
        return self.root_url

    def repo(self, repo_id: str, repo_type: str = "model") -> HubRepo:
        with self._lock:
            return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, repo_type: str = "model") -> dict[str, bytes]:
        """{path in repo: bytes} of every file committed to the repo."""
        with self._lock:
            return dict(self.repos[(repo_type, repo_id)].files)

    def url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.base_url}/{_URL_PREFIX[repo_type]}{repo_id}"

    def inject_error(
        self,
        method: str,
        path_pattern: str,
        status: int,
        message: str,
        *,
        code: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` ``method`` requests whose path matches ``path_pattern`` (a regex,
        searched) with ``status`` and ``message``, as the Hub answers a namespace the token cannot
        write to (403), card metadata it rejects (400) or an outage (5xx)."""
        with self._lock:
            self._injected.append(
                [method.upper(), re.compile(path_pattern), HubError(status, message, code), times]
            )

    # ------------------------------------------------------------------ routes

    def _existing(self, match: re.Match[str]) -> HubRepo:
        repo = self.repos.get((_TYPES[match["type"] or "models"], match["repo"]))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if (match.groupdict().get("rev") or "main") != "main":
            raise HubError(404, f"Invalid rev id: {match['rev']}", "RevisionNotFound")
        return repo

    def _create_repo(self, match: re.Match[str], body: bytes, query: str) -> Any:
        payload = json.loads(body or b"{}")
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise HubError(400, f"Invalid repo type {repo_type!r}")
        repo_id = f"{payload.get('organization') or self.user}/{payload['name']}"
        url = self.url(repo_type, repo_id)
        if (repo_type, repo_id) in self.repos:
            return 409, {"error": f"You already created this {repo_type} repo", "url": url}
        visibility = payload.get("visibility") or "public"
        self.repos[(repo_type, repo_id)] = HubRepo(repo_type, repo_id, private=visibility == "private")
        return 200, {"url": url, "name": repo_id, "id": hashlib.sha1(url.encode()).hexdigest()[:24]}

    def _validate_yaml(self, match: re.Match[str], body: bytes, query: str) -> Any:
        content = json.loads(body or b"{}").get("content", "")
        if not content.startswith("---"):
            return 200, {
                "errors": [],
                "warnings": [{"message": "Empty or missing yaml metadata in repo card"}],
            }
        try:
            metadata = yaml.safe_load(content.split("---", 2)[1])
        except (IndexError, yaml.YAMLError) as err:
            return 400, {"errors": [{"message": f"Invalid YAML in README.md: {err}"}]}
        if not isinstance(metadata, dict):
            return 400, {"errors": [{"message": "README.md metadata must be a YAML mapping"}]}
        return 200, {"errors": [], "warnings": []}

    def _repo_info(self, match: re.Match[str], body: bytes, query: str) -> Any:
        repo = self._existing(match)
        return 200, {
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.head,
            "private": repo.private,
            "siblings": [{"rfilename": path} for path in sorted(repo.files)],
        }

    def _upload_mode(self, path: str, size: int) -> str:
        lfs = size >= self.lfs_threshold or any(fnmatch.fnmatch(path, p) for p in self.lfs_patterns)
        return "lfs" if lfs else "regular"

    def _preupload(self, match: re.Match[str], body: bytes, query: str) -> Any:
        repo = self._existing(match)
        files = json.loads(body)["files"]
        answer = [
            {
                "path": item["path"],
                "uploadMode": self._upload_mode(item["path"], int(item["size"])),
                "shouldIgnore": False,
                "oid": repo.oid(item["path"]),
            }
            for item in files
        ]
        return 200, {"files": answer, "commitOid": repo.head}

    def _commit(self, match: re.Match[str], body: bytes, query: str) -> Any:
        repo = self._existing(match)
        if "create_pr=1" in query:
            raise HubError(400, "pull requests are not supported by this test server")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header" or not lines[0]["value"].get("summary"):
            raise HubError(400, "a commit starts with a header line holding a summary")
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, repo.head):
            raise HubError(412, "parentCommit is not the head of main")
        oid = repo.apply_commit(header, lines[1:], self.lfs_objects).oid
        url = f"{self.url(repo.repo_type, repo.repo_id)}/commit/{oid}"
        return 200, {
            "success": True,
            "commitOid": oid,
            "commitUrl": url,
            "hookOutput": "",
            "pullRequestUrl": None,
        }

    def _lfs_batch(self, match: re.Match[str], body: bytes, query: str) -> Any:
        repo = self._existing(match)
        payload = json.loads(body)
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(400, "only the 'upload' operation with the 'basic' transfer is supported")
        objects = []
        for item in payload["objects"]:
            oid, size = str(item["oid"]), int(item["size"])
            if oid in self.lfs_objects:
                objects.append({"oid": oid, "size": size})
                continue
            key = secrets.token_hex(16)
            self._pending_uploads[key] = (oid, size)
            git = f"{self.url(repo.repo_type, repo.repo_id)}.git/info/lfs/objects"
            actions = {
                "upload": {"href": f"{self.base_url}/lfs-storage/{key}"},
                "verify": {"href": f"{git}/verify"},
            }
            objects.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_store(self, match: re.Match[str], body: bytes, query: str) -> Any:
        expected = self._pending_uploads.pop(match["key"], None)
        if expected is None:
            raise HubError(403, "unknown or already used upload URL")
        oid, size = expected
        if len(body) != size or hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"uploaded bytes do not match oid {oid} and size {size}")
        self.lfs_objects[oid] = body
        return 200, b""

    def _lfs_verify(self, match: re.Match[str], body: bytes, query: str) -> Any:
        self._existing(match)
        payload = json.loads(body)
        data = self.lfs_objects.get(str(payload.get("oid")))
        if data is None or len(data) != payload.get("size"):
            raise HubError(404, f"LFS object {payload.get('oid')} not found")
        return 200, {}

    # ------------------------------------------------------------------ HTTP plumbing

    def _authorize(self, authorization: str | None) -> str:
        if not authorization:
            return "missing"
        scheme, _, value = authorization.partition(" ")
        return "valid" if scheme.lower() == "bearer" and value == self.token else "invalid"

    def _handle(self, method: str, target: str, body: bytes, auth: str) -> Any:
        parts = urlsplit(target)
        path = unquote(parts.path)
        with self._lock:
            for injected in self._injected:
                if injected[3] > 0 and injected[0] == method and injected[1].search(path):
                    injected[3] -= 1
                    raise injected[2]
        for route_method, pattern, handler, needs_token in self._routes:
            match = pattern.fullmatch(path)
            if route_method != method or match is None:
                continue
            if needs_token and auth != "valid":
                raise HubError(401, NO_TOKEN if auth == "missing" else INVALID_TOKEN)
            with self._lock:
                return handler(match, body, parts.query)
        raise HubError(404, f"no route {method} {parts.path} on this test Hub")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(TrackedHandler):
            local_server = server
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without this, Nagle's algorithm adds ~40 ms per reply.
            disable_nagle_algorithm = True

            def _read_body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, body: Any, extra: dict[str, str]) -> None:
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away; nothing to answer

            def _dispatch(self, method: str) -> None:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    # huggingface_hub sends Content-Length; refuse rather than misread a chunked body.
                    self.close_connection = True
                    self._send(411, {"error": "this test Hub needs Content-Length, not chunked bodies"}, {})
                    return
                body = self._read_body()
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
                auth = server._authorize(self.headers.get("Authorization"))
                record = RecordedRequest(method, self.path, headers, body, auth)
                with server._lock:
                    server.requests.append(record)
                extra: dict[str, str] = {}
                try:
                    record.status, answer = server._handle(method, self.path, body, auth)
                except HubError as err:
                    extra["X-Error-Message"] = str(err).encode("ascii", "backslashreplace").decode()
                    if err.code:
                        extra["X-Error-Code"] = err.code
                    # "error" for most endpoints, "errors" for validate-yaml; huggingface_hub reads both.
                    record.status, answer = err.status, {"error": str(err), "errors": [{"message": str(err)}]}
                except (KeyError, TypeError, ValueError) as err:  # a malformed request body
                    record.status, answer = 400, {"error": f"malformed request: {err!r}"}
                self._send(record.status, answer, extra)

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._dispatch("PUT")

        return Handler
