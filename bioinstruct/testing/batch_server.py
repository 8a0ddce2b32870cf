"""An in-memory OpenAI Files + Batch API, served by :class:`LocalOpenAIServer`.

Why: the Batch API path (upload a JSONL file, create a batch, poll it, download output and error
files) must be tested through the real ``openai`` SDK, over a socket, like the synchronous path.
This backend adds ``POST /v1/files``, ``GET /v1/files/{id}/content``, ``POST /v1/batches``,
``GET /v1/batches/{id}`` and ``POST /v1/batches/{id}/cancel`` to a server; each request line of a
batch is answered by the server's own *responder*, so the same scripted replies (refusals,
errors, truncated lists) drive both modes. A batch completes after ``polls_to_complete`` polls.

    server = LocalOpenAIServer(responder).start()
    backend = FakeBatchBackend(server, polls_to_complete=2)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from email import policy
from email.parser import BytesParser
from typing import Any

from bioinstruct.testing.openai_server import LocalOpenAIServer, Reply, chat_completion_body


def _header(headers: dict[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name), "")


def parse_multipart(raw: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """``{field: (filename, bytes)}`` of a multipart/form-data body (the SDK's file upload)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class FakeBatchBackend:
    """Files and batches kept in memory; install on a started or unstarted local server."""

    def __init__(
        self,
        server: LocalOpenAIServer,
        *,
        polls_to_complete: int = 2,
        fail_validation: bool = False,
        expire_after: int | None = None,
    ) -> None:
        self.server = server
        self.polls_to_complete = polls_to_complete
        self.fail_validation = fail_validation
        #: if set, only the first ``expire_after`` requests run; the batch ends "expired".
        self.expire_after = expire_after
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        server.route("POST", "/v1/files", self._create_file)
        server.route("GET", "/v1/files/", self._get_file)
        server.route("POST", "/v1/batches", self._post_batches)
        server.route("GET", "/v1/batches/", self._get_batch)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}{uuid.uuid4().hex[:8]}"

    def _store(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = self._new_id("file")
        record = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        self.files[file_id] = {**record, "content": content}
        return record

    def _create_file(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        fields = parse_multipart(raw, _header(headers, "content-type"))
        if "file" not in fields or "purpose" not in fields:
            return Reply(status=400, body={"error": {"message": "file and purpose are required"}})
        filename, content = fields["file"]
        with self._lock:
            record = self._store(content, filename or "upload.jsonl", fields["purpose"][1].decode())
        return Reply(body=record)

    def _get_file(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        parts = path.split("?")[0].strip("/").split("/")  # v1/files/{id}[/content]
        stored = self.files.get(parts[2]) if len(parts) >= 3 else None
        if stored is None:
            return Reply(status=404, body={"error": {"message": f"no file {path}"}})
        if parts[-1] == "content":
            return Reply(body=stored["content"])
        return Reply(body={key: value for key, value in stored.items() if key != "content"})

    def _post_batches(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) == 4 and parts[3] == "cancel":
            with self._lock:
                batch = self.batches.get(parts[2])
                if batch is None:
                    return Reply(status=404, body={"error": {"message": f"no batch {parts[2]}"}})
                batch["status"] = "cancelled"
                batch["cancelled_at"] = int(time.time())
                return Reply(body=batch)
        request = json.loads(raw or b"{}")
        stored = self.files.get(request.get("input_file_id", ""))
        if stored is None or stored["purpose"] != "batch":
            return Reply(status=400, body={"error": {"message": "input_file_id must name a batch file"}})
        batch_id = self._new_id("batch")
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": request.get("endpoint"),
            "input_file_id": stored["id"],
            "completion_window": request.get("completion_window"),
            "status": "validating",
            "created_at": int(time.time()),
            "metadata": request.get("metadata"),
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }
        with self._lock:
            self.batches[batch_id] = batch
            self.polls[batch_id] = 0
        return Reply(body=batch)

    def _get_batch(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        batch_id = path.split("?")[0].strip("/").split("/")[2]
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return Reply(status=404, body={"error": {"message": f"no batch {batch_id}"}})
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                self.polls[batch_id] += 1
                if self.polls[batch_id] >= self.polls_to_complete:
                    self._run(batch)
                else:
                    batch["status"] = "in_progress"
            return Reply(body=batch)

    def _invalid(self, lines: list[dict[str, Any]], endpoint: str) -> str | None:
        seen = set()
        for number, line in enumerate(lines, 1):
            if line.get("method") != "POST" or line.get("url") != endpoint or "body" not in line:
                return f"line {number}: needs method POST, url {endpoint} and a body"
            if line.get("custom_id") in seen:
                return f"line {number}: duplicate custom_id {line.get('custom_id')!r}"
            seen.add(line.get("custom_id"))
        return None

    def _run(self, batch: dict[str, Any]) -> None:
        """Answer every request line with the server's responder and write output/error files."""
        content = self.files[batch["input_file_id"]]["content"].decode()
        lines = [json.loads(text) for text in content.splitlines() if text.strip()]
        problem = (
            "rejected by the test backend"
            if self.fail_validation
            else self._invalid(lines, batch["endpoint"])
        )
        if problem:
            batch.update(status="failed", failed_at=int(time.time()))
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": problem}]}
            return
        outputs, errors = [], []
        for index, line in enumerate(lines):
            entry = {"id": self._new_id("batch_req"), "custom_id": line["custom_id"], "error": None}
            if self.expire_after is not None and index >= self.expire_after:
                entry.update(response=None, error={"code": "batch_expired", "message": "window expired"})
                errors.append(entry)
                continue
            self.server._record(line["body"])
            reply = self.server.responder(line["body"])
            if reply.status == 200:
                body = reply.body if reply.body is not None else chat_completion_body(line["body"], reply)
                outputs.append(
                    {**entry, "response": {"status_code": 200, "request_id": entry["id"], "body": body}}
                )
            else:
                error = {"message": reply.content or "error", "type": "server_error", "code": None}
                response = {"status_code": reply.status, "request_id": entry["id"], "body": {"error": error}}
                errors.append({**entry, "response": response})
        for key, rows in (("output_file_id", outputs), ("error_file_id", errors)):
            if rows:
                data = "".join(json.dumps(row) + "\n" for row in rows).encode()
                batch[key] = self._store(data, f"{batch['id']}_{key}.jsonl", "batch_output")["id"]
        done = self.expire_after is None
        batch.update(status="completed" if done else "expired", completed_at=int(time.time()))
        batch["request_counts"] = {"total": len(lines), "completed": len(outputs), "failed": len(errors)}
