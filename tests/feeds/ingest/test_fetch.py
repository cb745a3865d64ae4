"""The fetcher against a real HTTP server on 127.0.0.1: limits, redirects, refusals, headers."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest

from feeds.common.errors import (
    BadEncoding,
    BadURL,
    FetchTimeout,
    HTTPStatusError,
    RefusedAddress,
    TooLarge,
    TooManyRedirects,
)
from feeds.common.netguard import USER_AGENT
from feeds.ingest.fetch import Fetcher, FetchLimits, HostLocks, parse_max_age, parse_retry_after
from feeds.ingest.fulltext import PageReader
from tests.support.compression import MIB, bomb, encode
from tests.support.env import ROOT, fixture_bytes
from tests.support.feedserver import FeedServer, RawServer, Reply

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
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
    assert parse_max_age(httpx.Headers({"Cache-Control": "public, max-age=600"})) == 600
    assert parse_max_age(httpx.Headers({"Cache-Control": "no-cache, max-age=600"})) is None
    assert parse_max_age(httpx.Headers({})) is None


# Run in a fresh process. tracemalloc counts every allocation Python and zlib make (zlib's
# through PyMem), so its peak is the fetch's own, unlike the resident size, whose high-water mark
# may have been set while importing.
_MEASURE = """
import json, resource, sys, tracemalloc
from feeds.common.errors import FetchError
from feeds.ingest.fetch import Fetcher, FetchLimits
fetcher = Fetcher(FetchLimits(allow_private=True, max_bytes=int(sys.argv[3])))
fetcher.fetch(sys.argv[1])  # imports and first-use allocations, before the measurement
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
try:
    fetcher.fetch(sys.argv[2])
    error = None
except FetchError as exc:
    error = f"{type(exc).__name__}: {exc}"
peak = tracemalloc.get_traced_memory()[1] - base
print(json.dumps({"peak": peak, "error": error}))
"""


def peak_growth(small_url: str, url: str, cap: int) -> tuple[int, str | None]:
    """Peak bytes allocated while fetching url, in a fresh process with a `cap`-byte limit."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, small_url, url, str(cap)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    result = json.loads(out.stdout)
    return result["peak"], result["error"]


@pytest.mark.parametrize("layers", [2, 3])
def test_stacked_gzip_bomb_stays_within_a_small_multiple_of_the_cap(
    feed_server: FeedServer, layers: int
) -> None:
    """Issue 12: `Content-Encoding: gzip, gzip` made httpx inflate 1 GiB (2.2 GB resident)
    before the cap could count a byte. 256 MiB of zeros under a 1 MiB cap: 512 MiB at the peak
    before the bounded decoder, under 2 MiB after."""
    cap = MIB
    small = feed_server.route("/small", Reply(body=FEED, gzip=True))
    url = feed_server.route(
        "/bomb",
        Reply(body=bomb(layers, 256), headers={"Content-Encoding": ", ".join(["gzip"] * layers)}),
    )
    growth, error = peak_growth(small, url, cap)
    assert error is not None and error.startswith("TooLarge"), error
    assert growth < 3 * cap, f"the fetch allocated {growth / MIB:.1f} MiB at its peak"


@pytest.mark.parametrize(
    "codings",
    ["gzip", "x-gzip", "deflate", "deflate-raw", "gzip, gzip", "deflate, gzip", "identity, gzip"],
)
def test_content_codings_are_decoded_in_order(
    feed_server: FeedServer, fetcher: Fetcher, codings: str
) -> None:
    body = FEED
    for coding in codings.split(", "):
        body = body if coding == "identity" else encode(body, coding)
    header = codings.replace("deflate-raw", "deflate")
    url = feed_server.route("/rss", Reply(body=body, headers={"Content-Encoding": header}))
    assert fetcher.fetch(url).body == FEED


@pytest.mark.parametrize(
    ("header", "body", "problem"),
    [
        ("br", b"\x1b\x00", "content coding 'br', which quantam did not ask for"),
        ("gzip, gzip, gzip, gzip", encode(FEED, "gzip"), "at most 3 stacked"),
        ("gzip", encode(FEED, "gzip")[:-300], r"cut short \(truncated\)"),
        ("gzip", b"\x1f\x8b\x08\x00" + bytes(range(256)), "not valid gzip data"),
        ("deflate", b"\xff" * 64, "not valid deflate data"),
    ],
)
def test_bad_content_codings_are_refused_in_words(
    feed_server: FeedServer, fetcher: Fetcher, header: str, body: bytes, problem: str
) -> None:
    url = feed_server.route("/rss", Reply(body=body, headers={"Content-Encoding": header}))
    with pytest.raises(BadEncoding, match=problem):
        fetcher.fetch(url)


def test_dripped_headers_hit_the_total_timeout(raw_server: RawServer) -> None:
    """Issue 12: a server sending one header line per second held a fetch for 90 s against a
    6 s total, because the deadline was only checked while reading the body."""
    head = [(0.0, b"HTTP/1.1 200 OK\r\n")]
    drip = [(0.25, f"X-Drip-{n}: {n}\r\n".encode()) for n in range(24)]
    end = [(0.0, b"Content-Length: 0\r\n\r\n")]
    url = raw_server.serve(head + drip + end)
    fetcher = Fetcher(FetchLimits(allow_private=True, read_timeout=5, total_timeout=1.5))
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"longer than 1.5 s in all"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 2.5
    fetcher.close()


def test_requests_to_one_host_are_paced_and_a_host_can_ask_for_more(
    feed_server: FeedServer,
) -> None:
    fetcher = Fetcher(FetchLimits(allow_private=True), HostLocks(delay=0.3))
    url = feed_server.route("/rss", Reply(body=FEED))
    try:
        started = time.monotonic()
        for _ in range(3):
            fetcher.fetch(url)
        assert time.monotonic() - started >= 0.6  # two pauses of 0.3 s
        fetcher.host_locks.slow_down("127.0.0.1", 0.8)
        fetcher.fetch(url)
        assert 0.6 <= fetcher.host_locks.ready_in("127.0.0.1") <= 0.8
        assert fetcher.host_locks.ready_in("other.example") == 0
    finally:
        fetcher.close()


def test_truncate_reads_at_most_the_cap_and_keeps_the_prefix(
    feed_server: FeedServer, fetcher: Fetcher
) -> None:
    text = b"User-agent: *\nDisallow: /a\n" + b"# comment line\n" * 50_000  # 750 KB
    for name, reply in (
        ("declared", Reply(body=text, content_type="text/plain")),
        ("chunked", Reply(body=text, content_type="text/plain", chunk=8192)),
        ("gzip", Reply(body=text, content_type="text/plain", gzip=True)),
    ):
        url = feed_server.route(f"/robots-{name}.txt", reply)
        result = fetcher.fetch(url, accept="text/plain", max_bytes=1000, truncate=True)
        assert result.body == text[:1000], name
        with pytest.raises(TooLarge):
            fetcher.fetch(url, max_bytes=1000)
    assert feed_server.requests_to("/robots-declared.txt")[0].headers["accept"] == "text/plain"


def test_robots_txt_is_read_through_the_fetcher_within_500_kib(
    feed_server: FeedServer,
) -> None:
    big = b"User-agent: *\nDisallow: /cam/\n" + b"#" * (600 * 1024) + b"\nDisallow: /sau/\n"
    feed_server.route("/robots.txt", Reply(body=big, content_type="text/plain"))
    fetcher = Fetcher(FetchLimits(allow_private=True))
    robots = PageReader(fetcher).robots
    try:
        assert not robots.allowed(feed_server.url("/cam/bai.html"), USER_AGENT)
        # the rule past the first 500 KiB is never read
        assert robots.allowed(feed_server.url("/sau/bai.html"), USER_AGENT)
    finally:
        fetcher.close()
