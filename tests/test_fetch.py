"""The fetcher against a real HTTP server on 127.0.0.1: limits, redirects, refusals, headers."""

from __future__ import annotations

import gzip
import time

import pytest

from feeds.errors import (
    BadURL,
    FetchTimeout,
    HTTPStatusError,
    RefusedAddress,
    TooLarge,
    TooManyRedirects,
)
from feeds.fetch import Fetcher, FetchLimits, parse_max_age, parse_retry_after
from tests.conftest import fixture_bytes
from tests.feedserver import FeedServer, Reply

FEED = fixture_bytes("the-thao.rss")


@pytest.fixture
def fetcher():
    f = Fetcher(
        FetchLimits(
            allow_private=True,
            connect_timeout=2,
            read_timeout=0.5,
            total_timeout=2,
            max_bytes=64 * 1024,
        )
    )
    yield f
    f.close()


def test_user_agent_accept_and_gzip(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/rss", Reply(body=FEED, gzip=True))
    result = fetcher.fetch(url)
    assert result.status == 200 and result.body == FEED
    seen = feed_server.requests_to("/rss")[0].headers
    assert seen["user-agent"].startswith("quantam/")
    assert "gzip" in seen["accept-encoding"]
    assert "application/rss+xml" in seen["accept"]


def test_conditional_get_returns_304(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route(
        "/rss",
        Reply(body=FEED, etag='"v1"', headers={"Last-Modified": "Tue, 21 May 2024 13:00:00 GMT"}),
    )
    first = fetcher.fetch(url)
    assert first.etag == '"v1"' and first.last_modified == "Tue, 21 May 2024 13:00:00 GMT"
    second = fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    headers = feed_server.requests_to("/rss")[1].headers
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 21 May 2024 13:00:00 GMT"


@pytest.mark.parametrize(
    ("status", "permanent"), [(301, True), (308, True), (302, False), (307, False)]
)
def test_redirects_report_permanent_moves_only(
    feed_server: FeedServer, fetcher: Fetcher, status: int, permanent: bool
) -> None:
    new = feed_server.route("/new.rss", Reply(body=FEED))
    old = feed_server.route("/old.rss", Reply(status=status, headers={"Location": "/new.rss"}))
    result = fetcher.fetch(old)
    assert result.url == new and result.body == FEED
    assert result.permanent_url == (new if permanent else None)


def test_redirect_loop_is_stopped(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        fetcher.fetch(url)


def test_error_status_is_described_with_retry_after(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    url = feed_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    with pytest.raises(HTTPStatusError, match="429 Too Many Requests") as info:
        fetcher.fetch(url)
    assert info.value.status == 429 and info.value.retry_after == 120


def test_slow_response_hits_the_read_timeout(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/slow", Reply(body=FEED, delay=3))
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="timed out reading"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 2.5


def test_dripping_body_hits_the_total_timeout(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/drip", Reply(body=FEED, chunk=200, drip=0.3))
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="longer than 2 s"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 4


def test_oversized_body_declared(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/big", Reply(body=b"x" * 200_000))
    with pytest.raises(TooLarge, match="65,536-byte limit"):
        fetcher.fetch(url)


def test_oversized_body_streamed_without_length(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/big", Reply(body=b"<rss>" + b"x" * 200_000, chunk=16_384))
    with pytest.raises(TooLarge):
        fetcher.fetch(url)


def test_gzip_bomb_is_capped_after_decompression(feed_server: FeedServer, fetcher: Fetcher) -> None:
    bomb = b"\0" * 5_000_000
    assert len(gzip.compress(bomb)) < 64 * 1024
    url = feed_server.route("/bomb", Reply(body=bomb, gzip=True))
    with pytest.raises(TooLarge):
        fetcher.fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/rss",
        "http://localhost:{port}/rss",
        "http://[::1]:{port}/rss",
        "http://0177.0.0.1:{port}/rss",
        "http://2130706433:{port}/rss",
        "http://10.1.2.3/rss",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/rss",
    ],
)
def test_private_addresses_are_refused_by_default(feed_server: FeedServer, url: str) -> None:
    feed_server.route("/rss", Reply(body=FEED))
    fetcher = Fetcher(FetchLimits(connect_timeout=1))
    # httpx itself rejects the octal spelling as an invalid URL: refused either way.
    expected = BadURL if "0177" in url else RefusedAddress
    with pytest.raises(expected, match=r"QUANTAM_ALLOW_PRIVATE_FETCH|Invalid IPv4"):
        fetcher.fetch(url.format(port=feed_server.port))
    assert feed_server.requests_to("/rss") == []


def test_redirect_to_a_refused_address_is_refused(feed_server: FeedServer) -> None:
    """The first hop is allowed (the operator allowed 127.0.0.1); the redirect target is the
    cloud metadata address, which nobody allowed."""
    url = feed_server.route(
        "/rss", Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    fetcher = Fetcher(FetchLimits(allowed_networks=("127.0.0.1/32",), connect_timeout=1))
    with pytest.raises(RefusedAddress, match=r"169\.254\.169\.254"):
        fetcher.fetch(url)
    assert len(feed_server.requests_to("/rss")) == 1


def test_allowed_network_is_fetched(feed_server: FeedServer) -> None:
    url = feed_server.route("/rss", Reply(body=FEED))
    fetcher = Fetcher(FetchLimits(allowed_networks=("127.0.0.0/8",)))
    assert fetcher.fetch(url).body == FEED


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://x/"])
def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(BadURL, match="only http and https"):
        Fetcher().fetch(url)


def test_one_request_at_a_time_per_host(feed_server: FeedServer, fetcher: Fetcher) -> None:
    import threading

    for n in range(3):
        feed_server.route(f"/f{n}", Reply(body=FEED, delay=0.2))
    starts: list[tuple[float, float]] = []

    def get(n: int) -> None:
        t0 = time.monotonic()
        fetcher.fetch(feed_server.url(f"/f{n}"))
        starts.append((t0, time.monotonic()))

    threads = [threading.Thread(target=get, args=(n,)) for n in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Three 0.2 s requests to one host, serialised: at least 0.6 s in all.
    assert time.monotonic() - started >= 0.6


def test_header_parsers() -> None:
    import httpx

    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
    assert parse_max_age(httpx.Headers({"Cache-Control": "public, max-age=600"})) == 600
    assert parse_max_age(httpx.Headers({"Cache-Control": "no-cache, max-age=600"})) is None
    assert parse_max_age(httpx.Headers({})) is None
