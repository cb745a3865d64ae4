"""deploy/nginx/quantam.conf run for real on loopback, in front of quantam under gunicorn: nginx
serves its copy, revalidates it by ETag (a 304 from quantam), never caches a request with a
token, and a takedown is gone from its answers within the 2 seconds docs/deploy.md promises."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import open_store
from tests.support.env import ROOT
from tests.support.quantamproc import (
    TOKEN,
    Answer,
    gunicorn,
    request,
    seed_stories,
    sqlite_url,
)

CONF = ROOT / "deploy" / "nginx" / "quantam.conf"
# What docs/deploy.md promises: nginx's own freshness (1 s, counted in whole seconds of its
# clock, so up to 2 s), the longest a takedown is served from its copy.
FRESH = 2.0


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed, and CI must run this test (.ci/run installs it)")
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it in CI)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(work: Path, port: int, upstream: int) -> Path:
    """nginx.conf around the deploy file, with only its address, upstream and cache directory
    changed (each must be found exactly once, so the test follows the file)."""
    site = CONF.read_text(encoding="utf-8")
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
        ("/var/cache/nginx/quantam", str(work / "cache")),
    ):
        assert site.count(old) == 1, f"{CONF} should have {old!r} once"
        site = site.replace(old, new)
    (work / "quantam.conf").write_text(site, encoding="utf-8")
    temp = " ".join(
        f"{kind}_temp_path {work / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who cannot enter the test's directory.
    user = "user root;" if os.geteuid() == 0 else ""
    main = work / "nginx.conf"
    main.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    {temp}
    include {work / "quantam.conf"};
}}
""",
        encoding="utf-8",
    )
    return main


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(nginx's port, quantam's port, the stored ids)."""
    nginx = _nginx()
    store = open_store(sqlite_url(tmp_path))
    ids = seed_stories(store)
    store.close()
    port = _free_port()
    with gunicorn(sqlite_url(tmp_path), workers=2) as upstream:
        conf = _config(tmp_path, port, upstream)
        check = subprocess.run(
            [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True
        )
        assert check.returncode == 0, check.stderr.decode()
        proc = subprocess.Popen(
            [nginx, "-p", str(tmp_path), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    request(port, "/healthz")
                    break
                except OSError:
                    assert proc.poll() is None, proc.stderr.read().decode()
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield port, upstream, ids
        finally:
            proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _cache_status(answer: Answer) -> str:
    return answer.headers.get("X-Cache-Status", "")


def test_nginx_serves_its_copy_revalidates_by_etag_and_drops_a_takedown(stack) -> None:
    port, upstream, ids = stack
    path = f"/api/articles/{ids[0]}/related"
    first = request(port, path)
    assert first.status == 200 and "Story 1" in first.text
    again = request(port, path)
    assert _cache_status(again) == "HIT" and again.body == first.body
    # quantam's caching headers reach the client as quantam gave them.
    assert again.headers["Cache-Control"] == "public, max-age=60"
    assert again.headers["ETag"] == first.headers["ETag"]
    # Past nginx's freshness it asks quantam with the ETag, and quantam says 304.
    direct = request(upstream, path, headers={"If-None-Match": first.headers["ETag"]})
    assert direct.status == 304 and direct.body == b""
    time.sleep(FRESH + 0.2)
    revalidated = request(port, path)
    assert _cache_status(revalidated) == "REVALIDATED" and revalidated.body == first.body
    # Clients revalidate against nginx the same way.
    assert request(port, path, headers={"If-None-Match": first.headers["ETag"]}).status == 304

    feed = "/feeds/the-thao.rss"
    assert "bai-1.html" in request(port, feed).text
    by_url = "/api/related?url=https%3A%2F%2Fnews.example%2Fbai-0.html"
    assert "Story 1" in request(port, by_url).text
    # A takedown through nginx reaches quantam (it carries a token: never cached).
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert request(port, f"/api/articles/{ids[1]}", "DELETE", auth).status == 204
    time.sleep(FRESH + 0.2)
    for checked in (path, by_url, feed):
        answer = request(port, checked)
        assert answer.status == 200, checked
        assert "Story 1" not in answer.text and "bai-1.html" not in answer.text, checked
    assert request(port, f"/api/articles/{ids[1]}").status == 404


def test_requests_with_a_token_are_never_cached(stack) -> None:
    port, _, _ = stack
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(2):
        answer = request(port, "/api/sources", headers=auth)
        assert answer.status == 200 and _cache_status(answer) == "BYPASS"
    assert request(port, "/api/sources").status == 401
