"""Local stand-ins for a W&B host that accepts connections and never answers, or answers only the probe.

The fixtures built on these (``silent_host``, ``closed_port``, ``dead_host``, ``probe_only_host``)
are in tests/conftest.py.
"""
from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

FAKE_KEY = "f" * 40


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)  # lets the accept loop notice close() promptly
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for connection in self.connections:
            connection.close()


class ProbeOnlyHandler(BaseHTTPRequestHandler):
    """Answers GET (what the probe sends) and stalls every POST (W&B's GraphQL API) until shutdown."""

    stop = threading.Event()
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Any quick answer: the status is set per server."""
        self.send_response(self.status)
        self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        """Never answers within any test's patience."""
        self.stop.wait(120)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet."""


def http_server(status: int) -> tuple[ThreadingHTTPServer, str]:
    """A local HTTP server answering every GET with ``status`` (and stalling POSTs), and its URL."""
    handler = type("Handler", (ProbeOnlyHandler,), {"status": status, "stop": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def privib_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings (and worse) that privib's own loggers emitted."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("privib")]
