"""`quantam serve --port N` as a real process: without QUANTAM_BASE_URL its self links, OPML and
OpenAPI server name the address served; with it, the setting wins (issue 15)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from service.cli.running import served_settings
from service.config import load_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return bytes(answer.read())


@pytest.mark.parametrize("base_url", [None, "https://news.example.vn"])
def test_serve_names_the_address_it_serves(tmp_path: Path, base_url: str | None) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTAM_")}
    env["QUANTAM_STORE"] = f"sqlite:///{tmp_path / 'q.db'}"
    if base_url:
        env["QUANTAM_BASE_URL"] = base_url
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--no-poll"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        local = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                get(local + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "quantam serve did not start"
                time.sleep(0.2)
        expected = base_url or local
        document = json.loads(get(local + "/openapi.json"))
        assert document["servers"] == [{"url": expected}]
        assert f'xmlUrl="{expected}/feeds/all.rss"'.encode() in get(local + "/feeds.opml")
        assert b":8000" not in get(local + "/feeds/all.json")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_wildcard_address_is_named_by_loopback() -> None:
    settings = load_settings(environ={})
    assert served_settings(settings, "0.0.0.0", 9000).base_url == "http://127.0.0.1:9000"
    assert served_settings(settings, "::1", 9000).base_url == "http://[::1]:9000"
    given = settings.replace(base_url="https://a.example")
    assert served_settings(given, "0.0.0.0", 9000) is given
