"""A small real WebSub hub on 127.0.0.1: the hub side of the W3C WebSub Recommendation, enough
to test a subscriber against.

* `POST /` with `hub.mode=subscribe|unsubscribe`, `hub.callback`, `hub.topic` and (subscribe)
  optional `hub.lease_seconds` and `hub.secret`: 400 for a malformed request, else 202 and, on a
  thread, intent verification: a GET to the callback with `hub.mode`, `hub.topic`,
  `hub.challenge` (random) and `hub.lease_seconds`. The subscription starts (or ends) only when
  the callback answers 2xx with the challenge as its body.
* `publish(topic, body)`: POSTs the body to every subscriber of the topic with
  `X-Hub-Signature: sha256=<HMAC of the body with the subscriber's secret>` (or what a test
  asks for: another method, a wrong secret, none), and returns the callbacks' statuses.
* `deny(topic)`: `hub.mode=denied` to the topic's subscribers.

Every request and verification is recorded for the tests to read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str | None
    lease_seconds: int
    expires: datetime


@dataclass
class Verification:
    mode: str
    callback: str
    topic: str
    status: int
    echoed: bool


@dataclass
class WebSubHub:
    # The longest lease this hub grants (a test shortens it to see renewals).
    max_lease: int = 10 * 86400
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items() if v}
                status, message = hub._request(form)
                body = message.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- the hub's side of a subscription ------------------------------------------------------
    def _request(self, form: dict[str, str]) -> tuple[int, str]:
        with self._lock:
            self.requests.append(form)
        mode, callback, topic = (form.get(f"hub.{k}", "") for k in ("mode", "callback", "topic"))
        if mode not in ("subscribe", "unsubscribe"):
            return 400, f"hub.mode {mode!r} is not supported"
        if not callback.startswith(("http://", "https://")) or not topic:
            return 400, "hub.callback and hub.topic are required"
        secret = form.get("hub.secret")
        if secret is not None and len(secret.encode()) >= 200:
            return 400, "hub.secret must be under 200 bytes"
        try:
            asked = int(form.get("hub.lease_seconds") or self.max_lease)
        except ValueError:
            return 400, "hub.lease_seconds is not a number"
        lease = max(1, min(asked, self.max_lease))
        threading.Thread(
            target=self._verify, args=(mode, callback, topic, secret, lease), daemon=True
        ).start()
        return 202, "accepted"

    def _verify(self, mode: str, callback: str, topic: str, secret: str | None, lease: int) -> None:
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        try:
            answer = httpx.get(callback, params=params, timeout=5)
            status, echoed = answer.status_code, answer.text == challenge
        except httpx.HTTPError:
            status, echoed = 0, False
        with self._done:
            if 200 <= status < 300 and echoed:
                key = (callback, topic)
                if mode == "subscribe":
                    self.subscriptions[key] = HubSubscription(
                        callback,
                        topic,
                        secret,
                        lease,
                        datetime.now(UTC) + timedelta(seconds=lease),
                    )
                else:
                    self.subscriptions.pop(key, None)
            self.verifications.append(Verification(mode, callback, topic, status, echoed))
            self._done.notify_all()

    def wait_for_verifications(self, count: int, timeout: float = 10.0) -> list[Verification]:
        """Block until `count` verifications were made in all; returns them."""
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.verifications) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.verifications)} verifications, {count} expected: "
                        f"{self.verifications}"
                    )
                self._done.wait(left)
            return list(self.verifications)

    # -- publishing ---------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        method: str = "sha256",
        secret: str | None = None,
        signed: bool = True,
    ) -> list[int]:
        """Deliver `body` to the topic's subscribers; their answers' statuses."""
        with self._lock:
            targets = [s for s in self.subscriptions.values() if s.topic == topic]
        statuses = []
        for sub in targets:
            headers = {"Content-Type": content_type}
            key = secret if secret is not None else sub.secret
            if signed and key is not None:
                digest = hmac.new(key.encode(), body, getattr(hashlib, method)).hexdigest()
                headers["X-Hub-Signature"] = f"{method}={digest}"
            answer = httpx.post(sub.callback, content=body, headers=headers, timeout=5)
            statuses.append(answer.status_code)
        return statuses

    def deny(self, topic: str, reason: str) -> list[int]:
        with self._lock:
            targets = [s for s in self.subscriptions.values() if s.topic == topic]
        return [
            httpx.get(
                s.callback,
                params={"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason},
                timeout=5,
            ).status_code
            for s in targets
        ]
