"""robots.txt through Protego, cached per site, fetched from a real loopback HTTP server."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx
import pytest

from feeds.common.errors import HTTPStatusError
from feeds.ingest.robots import (
    ROBOTS_ERROR_TTL,
    ROBOTS_MAX_BYTES,
    ROBOTS_TTL,
    UNREACHABLE_GIVE_UP,
    RobotsCache,
    robots_txt_url,
)
from tests.support.feedserver import FeedServer, Reply

UA = "quantam/0.1.0 (feed syndication; +https://github.com/quantam/quantam)"
ROBOTS = b"""# robots.txt of a Vietnamese news site
User-agent: *
Disallow: /admin/
Disallow: /tim-kiem

User-agent: quantam
Disallow: /rieng-tu/
Allow: /rieng-tu/cong-khai.html
Crawl-delay: 5
"""


@dataclass
class Response:
    status: int
    body: bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def loopback_fetch(url: str, *, max_bytes: int) -> Response:
    """What quantam's fetcher will do for robots.txt: follow redirects, stop reading at
    max_bytes and keep what was read."""
    with httpx.stream("GET", url, timeout=5, follow_redirects=True) as response:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= max_bytes:
                break
        return Response(response.status_code, bytes(body[:max_bytes]))


def robots_reply(body: bytes = ROBOTS, status: int = 200) -> Reply:
    return Reply(status=status, body=body, content_type="text/plain; charset=utf-8")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def robots(clock: Clock) -> RobotsCache:
    return RobotsCache(loopback_fetch, clock=clock)


def test_disallow_is_obeyed_for_our_user_agent(feed_server: FeedServer, robots: RobotsCache):
    feed_server.route("/robots.txt", robots_reply())
    article = feed_server.url("/thoi-su/bai-viet-4741.html")
    private = feed_server.url("/rieng-tu/bai-viet.html")
    assert robots.allowed(article, UA)
    assert not robots.allowed(private, UA)
    assert robots.allowed(feed_server.url("/rieng-tu/cong-khai.html"), UA)
    # The group for quantam replaces the `*` group, as RFC 9309 says.
    assert robots.allowed(feed_server.url("/admin/"), UA)
    assert not robots.allowed(feed_server.url("/admin/"), "SomeOtherBot/1.0")
    verdict = robots.verdict(private, UA)
    assert not verdict.allowed
    assert feed_server.url("/robots.txt") in verdict.reason and "/rieng-tu/" in verdict.reason
    assert robots.crawl_delay(article, UA) == 5.0
    assert robots.crawl_delay(article, "SomeOtherBot/1.0") is None


def test_cached_for_the_ttl_then_fetched_again(
    feed_server: FeedServer, robots: RobotsCache, clock: Clock
):
    feed_server.route(
        "/robots.txt", robots_reply(), robots_reply(b"User-agent: *\nDisallow: /thoi-su/\n")
    )
    article = feed_server.url("/thoi-su/bai-viet-4741.html")
    for _ in range(5):
        assert robots.allowed(article, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 1
    clock.advance(ROBOTS_TTL - 1)
    assert robots.allowed(article, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 1
    clock.advance(2)
    assert not robots.allowed(article, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 2


def test_missing_robots_txt_allows_everything(feed_server: FeedServer, robots: RobotsCache):
    feed_server.route("/robots.txt", robots_reply(b"not found", status=404))
    verdict = robots.verdict(feed_server.url("/rieng-tu/bai-viet.html"), UA)
    assert verdict.allowed
    assert "404" in verdict.reason


def test_server_error_disallows_for_a_while(
    feed_server: FeedServer, robots: RobotsCache, clock: Clock
):
    feed_server.route("/robots.txt", robots_reply(b"oops", status=500), robots_reply())
    article = feed_server.url("/thoi-su/bai-viet-4741.html")
    verdict = robots.verdict(article, UA)
    assert not verdict.allowed
    assert "500" in verdict.reason and "nothing is fetched" in verdict.reason
    clock.advance(ROBOTS_ERROR_TTL - 1)
    assert not robots.allowed(article, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 1
    clock.advance(2)
    assert robots.allowed(article, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 2


def test_too_many_requests_counts_as_a_server_error(feed_server: FeedServer, robots: RobotsCache):
    feed_server.route("/robots.txt", robots_reply(b"slow down", status=429))
    assert not robots.allowed(feed_server.url("/thoi-su/a.html"), UA)


def test_unreachable_site_is_disallowed(robots: RobotsCache):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verdict = robots.verdict(f"http://127.0.0.1:{port}/thoi-su/a.html", UA)
    assert not verdict.allowed
    assert "could not be read" in verdict.reason


def test_rules_read_before_keep_applying_while_the_site_fails(
    feed_server: FeedServer, robots: RobotsCache, clock: Clock
):
    feed_server.route("/robots.txt", robots_reply(), robots_reply(b"down", status=503))
    article = feed_server.url("/thoi-su/bai-viet-4741.html")
    private = feed_server.url("/rieng-tu/bai-viet.html")
    assert robots.allowed(article, UA) and not robots.allowed(private, UA)
    clock.advance(ROBOTS_TTL + 1)
    assert robots.allowed(article, UA) and not robots.allowed(private, UA)
    assert len(feed_server.requests_to("/robots.txt")) == 2


def test_unreachable_for_thirty_days_counts_as_absent(clock: Clock):
    def failing(url: str, *, max_bytes: int) -> Response:
        raise ConnectionRefusedError("connection refused")

    robots = RobotsCache(failing, clock=clock)
    url = "https://baovidu.vn/thoi-su/a.html"
    assert not robots.allowed(url, UA)
    clock.advance(UNREACHABLE_GIVE_UP - 1)
    assert not robots.allowed(url, UA)
    clock.advance(ROBOTS_ERROR_TTL + 1)
    verdict = robots.verdict(url, UA)
    assert verdict.allowed and "30 days" in verdict.reason


def test_http_status_errors_from_quantams_fetcher_count_as_their_status(clock: Clock):
    def fetcher_like(url: str, *, max_bytes: int) -> Response:
        status = 404 if "baovidu" in url else 502
        raise HTTPStatusError(status, f"the server answered HTTP {status} at {url}")

    robots = RobotsCache(fetcher_like, clock=clock)
    assert robots.allowed("https://baovidu.vn/a.html", UA)
    assert not robots.allowed("https://other.example/a.html", UA)


def test_oversized_robots_txt_is_read_only_up_to_the_limit(feed_server: FeedServer, clock: Clock):
    padding = b"# " + b"x" * 78 + b"\n"
    body = (
        b"User-agent: *\nDisallow: /som/\n"
        + padding * (2 * ROBOTS_MAX_BYTES // len(padding) + 1)
        + b"Disallow: /muon/\n"
    )
    assert len(body) > 2 * ROBOTS_MAX_BYTES
    feed_server.route("/robots.txt", Reply(body=body, content_type="text/plain", chunk=65536))
    read = []

    def fetch(url: str, *, max_bytes: int) -> Response:
        response = loopback_fetch(url, max_bytes=max_bytes)
        read.append(len(response.body))
        return response

    robots = RobotsCache(fetch, clock=clock)
    assert not robots.allowed(feed_server.url("/som/a.html"), UA)
    # The rule after the limit is never read.
    assert robots.allowed(feed_server.url("/muon/a.html"), UA)
    assert read == [ROBOTS_MAX_BYTES]


def test_a_fetch_that_returns_too_much_is_still_cut_at_the_limit(clock: Clock):
    asked = []

    def greedy(url: str, *, max_bytes: int) -> Response:
        asked.append(max_bytes)
        return Response(200, b"User-agent: *\n" + b"#" * 2000 + b"\nDisallow: /\n")

    robots = RobotsCache(greedy, clock=clock, max_bytes=1000)
    assert robots.allowed("https://baovidu.vn/thoi-su/a.html", UA)
    assert asked == [1000]


def test_each_scheme_host_and_port_has_its_own_robots_txt():
    assert robots_txt_url("https://BaoViDu.vn/thoi-su/a.html?x=1#y") == (
        "https://baovidu.vn/robots.txt"
    )
    assert robots_txt_url("http://baovidu.vn:8080/a") == "http://baovidu.vn:8080/robots.txt"
    assert robots_txt_url("http://user:pw@baovidu.vn/a") == "http://baovidu.vn/robots.txt"
    assert robots_txt_url("ftp://baovidu.vn/a") is None
    assert robots_txt_url("http://baovidu.vn:99999/a") is None


def test_a_url_that_is_not_http_is_never_allowed(robots: RobotsCache):
    verdict = robots.verdict("javascript:alert(1)", UA)
    assert not verdict.allowed and "not an http(s) URL" in verdict.reason


def test_the_cache_keeps_at_most_max_hosts_sites(clock: Clock):
    fetched = []

    def fetch(url: str, *, max_bytes: int) -> Response:
        fetched.append(url)
        return Response(200, b"User-agent: *\nDisallow: /rieng/\n")

    robots = RobotsCache(fetch, clock=clock, max_hosts=2)
    for host in ("a.vn", "b.vn", "a.vn", "c.vn", "a.vn", "b.vn"):
        robots.allowed(f"https://{host}/x", UA)
    # b.vn was the least recently used when c.vn came in, so it was fetched again.
    assert fetched == [
        "https://a.vn/robots.txt",
        "https://b.vn/robots.txt",
        "https://c.vn/robots.txt",
        "https://b.vn/robots.txt",
    ]
