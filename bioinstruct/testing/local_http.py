"""What the local test servers share: a threaded HTTP server on 127.0.0.1 with a clean stop.

Why a base: the OpenAI-protocol server and the Hub server differ only in the requests they
answer. Both must start in a background thread, stay silent on stderr, and on ``stop()`` really
close the port, including connections a client keeps alive (httpx pools them), or a test that
checks "the server is gone" would still reach it.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalHTTPServer(abc.ABC):
    """A ``ThreadingHTTPServer`` in a daemon thread; a context manager. Subclasses give the handler."""

    thread_name = "local-http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """The request handler (usually a subclass of :class:`TrackedHandler` bound to ``self``)."""

    @property
    def root_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop kept-alive client connections, so the port is really closed."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._lock:
            (self._connections.add if is_open else self._connections.discard)(connection)


class TrackedHandler(BaseHTTPRequestHandler):
    """Handler base: silent, and registers its connection with ``local_server`` so ``stop()`` can close it."""

    local_server: LocalHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        return

    def setup(self) -> None:
        super().setup()
        self.local_server.track(self.connection, True)

    def finish(self) -> None:
        self.local_server.track(self.connection, False)
        super().finish()
