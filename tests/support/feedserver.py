"""A real HTTP server on 127.0.0.1 that serves scripted replies (feed bytes, statuses, delays).

Tests give each path a sequence of `Reply`s (the last one repeats), and read back the requests
the server saw, headers included. Nothing is mocked: quantam's fetcher talks real HTTP to it.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up mid-body (timeouts, size caps) are expected: no tracebacks."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    # Seconds to wait before answering at all.
    delay: float = 0.0
    # When set, send the body in chunks of `chunk` bytes with `drip` seconds between them.
    chunk: int = 0
    drip: float = 0.0
    gzip: bool = False
    # Answer 304 when the request's If-None-Match equals this ETag.
    etag: str | None = None


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.posts: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server._lock:
                    server.posts.append((self.path, body))
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, *replies: Reply) -> str:
        with self._lock:
            self.routes[path] = list(replies)
        return self.url(path)

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _next_reply(self, path: str) -> Reply | None:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.seen.append(Seen(h.path, {k.lower(): v for k, v in h.headers.items()}))
        reply = self._next_reply(h.path)
        if reply is None:
            reply = Reply(status=404, body=b"not found", content_type="text/plain")
        if reply.delay:
            time.sleep(reply.delay)
        if reply.etag and h.headers.get("If-None-Match") == reply.etag:
            h.send_response(304)
            h.send_header("ETag", reply.etag)
            for name, value in reply.headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = reply.body
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        if reply.etag:
            h.send_header("ETag", reply.etag)
        for name, value in reply.headers.items():
            h.send_header(name, value)
        if reply.gzip:
            body = gzip.compress(body)
            h.send_header("Content-Encoding", "gzip")
        if reply.chunk:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            try:
                for i in range(0, len(body), reply.chunk):
                    part = body[i : i + reply.chunk]
                    h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    h.wfile.flush()
                    time.sleep(reply.drip)
                h.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        with contextlib.suppress(OSError):
            h.wfile.write(body)


class RawServer:
    """A loopback TCP server that answers every request with bytes exactly as a test scripts
    them: status line, headers and body in pieces, each after its own pause. For what
    http.server cannot send: a status line and headers dripped one line at a time, stacked or
    unknown content codings, headers in any order, a body cut short. The connection is closed
    after the last piece."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._pieces: list[tuple[float, bytes]] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.close()

    def serve(self, pieces: list[tuple[float, bytes]], path: str = "/feed") -> str:
        """Answer the next requests with these (pause in seconds, bytes) pieces."""
        self._pieces = list(pieces)
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn, self._pieces), daemon=True).start()

    def _answer(self, conn: socket.socket, pieces: list[tuple[float, bytes]]) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            for pause, data in pieces:
                if pause and self._stopped.wait(pause):
                    return
                conn.sendall(data)
