"""Secrets and internal addresses stay out of what quantam says: command output, log lines, and
every HTTP answer (errors, /healthz, /metrics).

Issue 12: `quantam serve` printed the store URL with the Redis password, and 503 answers named
the internal Redis host, port and database.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from service.config import load_settings
from service.http.app import create_app
from tests.support.env import ROOT
from tests.support.redisproc import closed_port

PASSWORD = "hunter2-secret"
TOKEN = "t0ken"


@pytest.fixture
def store_url() -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/3?prefix=secret-test"


def test_answers_and_logs_name_neither_the_password_nor_the_address(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = store_url.split(":")[3].split("/")[0]
    app = create_app(load_settings(environ={}, store=store_url, api_token=TOKEN))
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    answers = [
        client.get("/healthz"),
        client.get("/api/categories"),
        client.get("/api/articles"),
        client.get("/api/related?url=https://bao.example.vn/a.html"),
        client.get("/feeds/all.rss"),
        client.get("/embed/related?url=https://bao.example.vn/a.html"),
        client.post(
            "/api/articles",
            json={"url": "https://bao.example.vn/a.html", "title": "x", "category": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ),
    ]
    assert [a.status_code for a in answers] == [503] * 7
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "quantam_store_up 0.0" in metrics.get_data(as_text=True)
    # the port as a number of its own: /metrics is full of latencies whose digits may hold it
    port_alone = re.compile(rf"(?<![\d.]){port}(?![\d])")
    for answer in [*answers, metrics]:
        text = answer.get_data(as_text=True) + str(answer.headers)
        for secret in (PASSWORD, "127.0.0.1"):
            assert secret not in text, (answer.request.path, text)
        assert not port_alone.search(text), (answer.request.path, text)
    assert "Redis is unavailable (ConnectionError)" in answers[1].get_json()["detail"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in logged and ":***@127.0.0.1" in logged  # the operator's log names it
    app.extensions["quantam"].close()


def _run(*args: str, store: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "service", *args],
        env={**os.environ, "QUANTAM_STORE": store, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_prints_the_store_without_its_password(store_url: str) -> None:
    serve = _run("serve", "--no-poll", "--port", str(closed_port()), store=store_url)
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
    finally:
        serve.terminate()
        _, rest = serve.communicate(timeout=30)
    assert first.startswith("quantam serving on http://127.0.0.1:")
    assert f"redis://:***@127.0.0.1:{store_url.split(':')[3]}" in first
    assert PASSWORD not in first + rest


def test_a_bad_store_url_is_named_without_its_password() -> None:
    listing = _run("sources", "list", store=f"mysql://quantam:{PASSWORD}@db.internal/news")
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 2 and "unsupported store URL" in err
    assert "mysql://quantam:***@db.internal/news" in err
    assert PASSWORD not in out + err
