"""A small HTTP file server on 127.0.0.1 for the download tests, with knobs for faults.

It answers ``Range`` / ``If-Range`` like a real server (206, 416), and can drop a
connection part-way, ignore ranges, answer an error status, or never answer at all.
Used as a proxy too: a request for an absolute URL is served by its path.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not go to a proxy the environment may name (import it into a test module)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)  # {"path": raw request path, "headers": {...}}
    cut_after: list[int] = field(default_factory=list)  # bytes of body sent by the next requests, then hang up
    honour_range: bool = True
    misplaced_range: bool = False  # answer a Range request with 206 for bytes from 0
    status: int | None = None  # answer every request with this error status
    send_length: bool = True
    hang: bool = False  # accept the connection, never answer
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self, path: str, data: bytes, etag: str = '"v1"') -> None:
        self.files[path], self.etags[path] = data, etag


class _Handler(BaseHTTPRequestHandler):
    state: ServerState  # set on the subclass made per server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        state = self.state
        state.requests.append({"path": self.path, "headers": dict(self.headers)})
        if state.hang:
            state.release.wait(30)
            return
        if state.status is not None:
            self.send_error(state.status)
            return
        path = urlsplit(self.path).path
        if path not in state.files:
            self.send_error(404)
            return
        data, etag = state.files[path], state.etags[path]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and state.honour_range and self.headers.get("If-Range", etag) == etag:
            start = 0 if state.misplaced_range else int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if state.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.cut_after:
            body = body[: state.cut_after.pop(0)]  # then the connection closes: a dropped download
        self.wfile.write(body)


class FileServer:
    """``with FileServer() as server: server.url("/x.zip")``; ``server.state`` holds the knobs."""

    def __init__(self) -> None:
        self.state = ServerState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.release.set()
        self._server.shutdown()
        self._server.server_close()
