"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Why: the openai 3.x SDK sends requests through its own HTTP stack, which request-mocking
libraries do not intercept. Tests, benchmarks and the offline quickstart therefore talk to a
real local server over a real socket, through exactly the code path that talks to GPT-4;
only ``base_url`` differs. Behaviour is scripted by a *responder*: a function from the
parsed request body to a :class:`Reply`, so tests can inject 429s, 500s, slow replies,
refusals or truncated lists.

Extra routes (for example the Batch API's ``/files`` and ``/batches``) can be added with
:meth:`LocalOpenAIServer.route`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from bioinstruct.testing.local_http import LocalHTTPServer, TrackedHandler


@dataclass
class Reply:
    """What the server sends back for one request."""

    content: str | None = ""
    status: int = 200
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Full JSON body to send instead of a chat completion built from ``content``.
    body: Any = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


Responder = Callable[[dict[str, Any]], Reply]
RouteHandler = Callable[[str, str, bytes, dict[str, str]], Reply]


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about 4 characters per token."""
    return max(1, (len(text) + 3) // 4)


def _prompt_text(request: dict[str, Any]) -> str:
    parts = []
    for message in request.get("messages", []):
        content = message.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        parts.append(str(content))
    return "\n".join(parts)


def chat_completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """Build the JSON body of a ``chat.completion`` object, with usage, for ``reply``."""
    content = reply.content or ""
    prompt_tokens = (
        reply.prompt_tokens if reply.prompt_tokens is not None else count_tokens(_prompt_text(request))
    )
    completion_tokens = (
        reply.completion_tokens if reply.completion_tokens is not None else count_tokens(content)
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "local"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class LocalOpenAIServer(LocalHTTPServer):
    """Threaded chat-completions server on an ephemeral port of 127.0.0.1.

    Use as a context manager::

        with LocalOpenAIServer(lambda request: Reply("1. Instruction: ...")) as server:
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")

    Every request body received is appended to :attr:`requests` (thread-safe).
    """

    thread_name = "local-openai"

    def __init__(self, responder: Responder, host: str = "127.0.0.1", port: int = 0) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.routes: dict[tuple[str, str], RouteHandler] = {}
        super().__init__(host, port)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def route(self, method: str, path_prefix: str, handler: RouteHandler) -> None:
        """Serve ``method`` requests whose path starts with ``path_prefix`` (e.g. ``/v1/batches``)."""
        self.routes[(method.upper(), path_prefix)] = handler

    def _record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(TrackedHandler):
            local_server = server
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without this, Nagle's algorithm adds ~40 ms per reply.
            disable_nagle_algorithm = True

            def _send(self, reply: Reply, body: Any) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout); nothing to do

            def _dispatch(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                for (route_method, prefix), handler in server.routes.items():
                    if route_method == method and self.path.startswith(prefix):
                        reply = handler(method, self.path, raw, dict(self.headers))
                        self._send(reply, reply.body if reply.body is not None else {})
                        return
                if method == "POST" and self.path.rstrip("/").endswith("/chat/completions"):
                    request = json.loads(raw or b"{}")
                    server._record(request)
                    reply = server.responder(request)
                    if reply.body is not None:
                        body = reply.body
                    elif reply.status >= 400:
                        body = {
                            "error": {
                                "message": reply.content or "error",
                                "type": "server_error",
                                "code": None,
                            }
                        }
                    else:
                        body = chat_completion_body(request, reply)
                    self._send(reply, body)
                    return
                self._send(Reply(status=404), {"error": {"message": f"no route {method} {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                self._dispatch("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._dispatch("GET")

        return Handler
