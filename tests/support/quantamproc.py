"""quantam served by real gunicorn processes on loopback, as in production."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from store.base import Store
from store.models import Alias, Category, IngestBatch, RelatedItem
from tests.support.articles import make_article
from tests.support.env import ROOT

TOKEN = "w0rker-t0ken"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    """One request on a fresh connection (so gunicorn's sync workers take turns)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


@contextmanager
def gunicorn(store_url: str, workers: int = 1, **env: str) -> Iterator[int]:
    """`gunicorn 'service.app:create_app()'` over `store_url` on a port the kernel picks;
    yields the port, stops the server (by its pid) on exit."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                str(workers),
                "service.app:create_app()",
            ],
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "QUANTAM_STORE": store_url,
                "QUANTAM_API_TOKEN": TOKEN,
                "QUANTAM_LOG_LEVEL": "WARNING",
                "QUANTAM_RELATED_AUTO_REINDEX_MAX": "0",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield _wait_listening(proc, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_listening(proc: subprocess.Popen, log, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{text}")
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if found:
            port = int(found.group(1))
            try:
                if request(port, "/healthz").status in (200, 503):
                    return port
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {seconds:.0f} s")


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'quantam.db'}"


def seed_stories(store: Store, count: int = 8) -> list[str]:
    """Sports stories titled "Story <n>" at https://news.example/bai-<n>.html; the first's
    related list shows the next five."""
    store.put_category(Category("the-thao", "Thể thao"))
    articles = [make_article(n, title=f"Story {n}") for n in range(count)]
    store.commit(
        IngestBatch(articles=articles, aliases=[Alias("url", a.url, a.id) for a in articles])
    )
    ids = [a.id for a in articles]
    store.put_related({ids[0]: [RelatedItem(i, 0.9 - n / 10) for n, i in enumerate(ids[1:6])]})
    return ids
