"""No input may crash or hang ingestion: every body ends as stored articles or a clear error.

Three doors in: feed bodies given as bytes; whole HTTP responses from a loopback server (random
content codings, stacked, unknown and cut short, lengths that lie, headers in any order, pauses
between any two pieces, compression bombs), fetched within bounded time and memory; and JSON
pushed to the write API, which answers 2xx or 4xx in words and never stores half an article.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
import unicodedata
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from feeds.ingest.fetch import Fetcher, FetchLimits
from feeds.ingest.pipeline import Ingestor
from service.config import load_settings
from service.http.app import create_app
from store.sqlite import SQLiteStore
from tests.support.compression import bomb
from tests.support.env import FIXTURES
from tests.support.feedbuilder import rss, story
from tests.support.feedserver import RawServer

REAL = [p.read_bytes() for p in sorted((FIXTURES / "feeds").iterdir())]
NOW = datetime(2024, 5, 22, tzinfo=UTC)
FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "form", "svg"}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")


class _Audit(HTMLParser):
    """What a browser would run: forbidden tags, event attributes, script URLs (judged the
    way the WHATWG URL parser reads them: controls and spaces around, tabs/newlines inside,
    are ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and value:
                url = "".join(c for c in value if c not in "\t\n\r").strip("\x00 \x1f")
                if url.lower().startswith(DANGEROUS_SCHEMES):
                    self.found.append(f"{tag}[{name}={value!r}]")


def dangers(safe_html: str) -> list[str]:
    audit = _Audit()
    audit.feed(safe_html)
    return audit.found


def check(body: bytes) -> None:
    """Ingest body into a fresh SQLite file and assert the outcome is one of the two allowed."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp) / 'q.db'}")
        ingestor = Ingestor(store, clock=lambda: NOW)
        report = ingestor.ingest_bytes(body, target="fuzz.xml", category="fuzz")
        if report.ok:
            stored = list(store.iter_articles())
            assert len(stored) == len(report.new)
            for article in stored:
                for text in (article.title, article.summary, article.text, article.content_html):
                    assert unicodedata.is_normalized("NFC", text), text
                assert dangers(article.content_html) == [], article.content_html
                assert article.url.startswith(("http://", "https://"))
        else:
            assert isinstance(report.error, str) and report.error
            assert store.count_articles() == 0
        store.close()


@given(st.binary(max_size=4096))
def test_random_bytes(body: bytes) -> None:
    check(body)


@given(st.sampled_from(REAL), st.floats(min_value=0.0, max_value=1.0))
def test_truncated_real_feeds(feed: bytes, fraction: float) -> None:
    check(feed[: int(len(feed) * fraction)])


@given(
    st.sampled_from(REAL),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=64),
)
def test_corrupted_real_feeds(feed: bytes, at: int, junk: bytes) -> None:
    at = at % max(1, len(feed))
    check(feed[:at] + junk + feed[at:])


@given(st.text(max_size=300), st.text(max_size=300))
def test_arbitrary_unicode_in_fields(title: str, description: str) -> None:
    title = "".join(c for c in title if c.isprintable())
    description = "".join(c for c in description if c.isprintable())
    check(rss([story(1, title=title, description=description)]))


def test_deep_xml_nesting() -> None:
    check(
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b"<link>https://a.vn/1</link>"
        + b"<x>" * 50_000
        + b"</x>" * 50_000
        + b"</item></channel></rss>"
    )


def test_deep_html_nesting_in_content() -> None:
    check(rss([story(1, description="<div>" * 30_000 + "sâu quá")]))


def test_huge_attributes() -> None:
    check(
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b'<link>https://a.vn/1</link><enclosure type="image/jpeg" url="https://a.vn/'
        + b"a" * 2_000_000
        + b'.jpg"/></item></channel></rss>'
    )


def test_billion_laughs() -> None:
    entities = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}]>'
        '<rss version="2.0"><channel><title>&l9;</title><item><title>&l9;</title>'
        "<link>https://a.vn/1</link></item></channel></rss>"
    ).encode()
    check(body)


def test_external_entity_is_not_read() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>a&x;</title>'
        b"<link>https://a.vn/1</link><description>&x;</description></item></channel></rss>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp) / 'q.db'}")
        Ingestor(store).ingest_bytes(body, target="x.xml", category="x")
        for article in store.iter_articles():
            assert "root:" not in article.text + article.title


def test_entity_and_charref_tricks() -> None:
    check(
        b'<rss version="2.0"><channel><title>t</title><item><title>&#0;&#xD800;&#x110000;&bogus;'
        b"&amp;lt;script&amp;gt;</title><link>https://a.vn/1</link>"
        b"<description>&lt;img src=x onerror=alert(1)&gt;&#x202E;</description>"
        b"</item></channel></rss>"
    )


def test_the_audit_itself_catches_what_it_must() -> None:
    assert dangers('<a href=" JaVa\tScRiPt:x()">') and dangers("<img onerror=x>")
    assert dangers("<script>x</script>") and dangers('<img src="data:image/png;base64,AA">')
    assert dangers('<a href="\ufffdjavascript:x">') == []  # a relative URL to a browser


# -- whole HTTP responses -----------------------------------------------------------------------

CAP = 256 * 1024
LIMITS = FetchLimits(
    allow_private=True, connect_timeout=1, read_timeout=0.5, total_timeout=0.3, max_bytes=CAP
)
# Named in Content-Encoding, and how the bytes are actually encoded: quantam asks for gzip and
# deflate; the others it must refuse (the bytes under them are left as they are).
CODINGS = {
    "gzip": 31,
    "x-gzip": 31,
    "GZip": 31,
    "deflate": 15,
    "deflate-raw": -15,
    "identity": None,
    "br": None,
    "compress": None,
    "zstd": None,
}
PAUSES = [0.0] * 8 + [0.005, 0.02, 0.15]


def encode_as(data: bytes, coding: str) -> bytes:
    wbits = CODINGS[coding]
    if wbits is None:
        return data
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@st.composite
def responses(draw: Any) -> tuple[list[tuple[float, bytes]], str]:
    """The pieces of one raw HTTP response (each after a pause), and what it is, for messages."""
    status = draw(st.sampled_from([200] * 6 + [304, 404, 503]))
    kind = draw(st.sampled_from(["feed"] * 4 + ["junk", "bomb"]))
    if kind == "bomb":
        layers = draw(st.integers(1, 3))
        codings, body = ["gzip"] * layers, bomb(layers, 16)
    else:
        body = draw(st.sampled_from(REAL)) if kind == "feed" else draw(st.binary(max_size=2048))
        codings = draw(st.lists(st.sampled_from(sorted(CODINGS)), max_size=4))
        for coding in codings:
            body = encode_as(body, coding)
    cut = draw(st.one_of(st.none(), st.floats(0.0, 1.0)))
    if cut is not None:
        body = body[: int(len(body) * cut)]
    framing = draw(st.sampled_from(["length", "chunked", "close", "too-long", "too-short"]))
    headers = [f"Content-Type: {draw(st.sampled_from(['application/rss+xml', 'text/html']))}"]
    if codings:
        headers.append("Content-Encoding: " + ", ".join(c.replace("-raw", "") for c in codings))
    headers += draw(
        st.lists(
            st.sampled_from(
                [
                    'ETag: "x"',
                    "Cache-Control: max-age=60",
                    "X-Junk: \x7f\x01",
                    "Content-Language: vi",
                ]
            )
        )
    )
    declared = {"length": len(body), "too-long": len(body) + 10, "too-short": len(body) // 2}
    if framing in declared:
        headers.append(f"Content-Length: {declared[framing]}")
    elif framing == "chunked":
        headers.append("Transfer-Encoding: chunked")
    else:
        headers.append("Connection: close")
    head = [f"HTTP/1.1 {status} X\r\n".encode()]
    head += [f"{h}\r\n".encode("latin-1") for h in draw(st.permutations(headers))]
    head.append(b"\r\n")
    parts = draw(st.integers(1, 6))
    size = max(1, -(-len(body) // parts))
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    if framing == "chunked":
        pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    script = [(draw(st.sampled_from(PAUSES)), piece) for piece in head + pieces]
    return script, f"{status} {kind} {codings} cut={cut} {framing}"


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[RawServer]:
    server = RawServer()
    server.start()
    yield server
    server.stop()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(response=responses())
def test_any_http_response_ends_in_a_feed_or_a_clean_error(
    fuzz_server: RawServer, response: tuple[list[tuple[float, bytes]], str]
) -> None:
    script, what = response
    url = fuzz_server.serve(script)
    fetcher = Fetcher(LIMITS)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp) / 'q.db'}")
        ingestor = Ingestor(store, fetcher, clock=lambda: NOW)
        source = ingestor.add_source(url, "fuzz")
        tracemalloc.start()
        started = time.monotonic()
        try:
            report = ingestor.poll_source(source)
        finally:
            took = time.monotonic() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        # the total timeout bounds the fetch; the rest is parsing and storing a small feed
        assert took < LIMITS.total_timeout + 1.5, f"{what}: {took:.2f} s"
        assert peak < 3 * CAP + 1024 * 1024, f"{what}: {peak:,} bytes at the peak"
        if report.ok:
            assert store.count_articles() == len(report.new), what
        else:
            assert not report.error.startswith("internal error"), f"{what}: {report.error}"
            assert store.count_articles() == 0, what  # nothing stored half
        polled = store.get_source(source.id)
        assert polled.last_fetch_at == NOW and (polled.last_error is None) == report.ok
        event(report.error.split(":")[0][:40] if report.error else "stored")
        store.close()
    fetcher.close()


# -- JSON pushed to the write API -----------------------------------------------------------------

TOKEN = "fuzz-token"
PUSH_FIELDS = ["url", "title", "category", "summary", "content_html", "author", "published",
               "updated", "tags", "image", "language", "guid"]  # fmt: skip
# Any text, lone surrogates included (JSON can spell them: "\ud800").
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=80)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
PLAUSIBLE = {
    "url": st.sampled_from(["https://cms.example.vn/a", "HTTPS://CMS.example.vn/b?utm_x=1"])
    | ANY_TEXT.map(lambda t: f"https://cms.example.vn/{t}"),
    "title": st.sampled_from(["Tin nóng", "Giá vàng hôm nay"]) | ANY_TEXT,
    "category": st.sampled_from(["the-thao", "Thể thao"]) | ANY_TEXT,
    "published": st.sampled_from(["2024-05-01T08:00:00+07:00", "2024-05-01", "hôm qua"]),
    "image": st.sampled_from(["https://cms.example.vn/a.jpg", "javascript:alert(1)"]),
    "tags": st.lists(ANY_TEXT, max_size=3),
}


@st.composite
def pushes(draw: Any) -> bytes:
    """A body: mostly an object of push fields with plausible or arbitrary values, sometimes
    deep nesting or any JSON at all, encoded with \\u escapes (so surrogates get through)."""
    shape = draw(st.sampled_from(["fields"] * 6 + ["any", "deep"]))
    if shape == "deep":
        depth = draw(st.integers(1000, 5000))
        return b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    if shape == "any":
        data: Any = draw(JSON_VALUES)
    else:
        # the required fields mostly there and plausible, so that many pushes are stored
        names = ["url", "title", "category"] if draw(st.integers(0, 3)) else []
        names += draw(st.lists(st.sampled_from(PUSH_FIELDS), max_size=5))
        data = {
            n: draw(PLAUSIBLE.get(n, ANY_TEXT) if draw(st.integers(0, 4)) else JSON_VALUES)
            for n in dict.fromkeys(names)
        }
    return json.dumps(data, ensure_ascii=True).encode()


@pytest.fixture(scope="module")
def push_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("push") / "q.db"
    app = create_app(
        load_settings(
            environ={}, store=f"sqlite:///{db}", api_token=TOKEN, related_auto_reindex_max=0
        )
    )
    yield app
    app.extensions["quantam"].close()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=pushes(), path=st.sampled_from(["/api/articles", "/api/sources"]))
def test_any_json_pushed_is_stored_whole_or_refused_in_words(
    push_app: Any, body: bytes, path: str
) -> None:
    store = push_app.extensions["quantam"].store
    before = (store.count_articles(), len(store.list_sources()))
    answer = push_app.test_client().post(
        path,
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert answer.status_code in (200, 201, 400, 409), answer.data[:500]
    event(str(answer.status_code))
    after = (store.count_articles(), len(store.list_sources()))
    if answer.status_code >= 400:
        problem = answer.get_json()
        assert answer.mimetype == "application/problem+json" and problem["detail"], problem
        assert after == before  # nothing stored half
    elif path == "/api/articles":
        pushed = answer.get_json()
        stored = store.get_article(pushed["id"])
        assert stored is not None and stored.title == pushed["title"] and stored.title
        assert pushed["related_lists"] in ("updated", "pending")
        assert after[0] in (before[0], before[0] + 1)
    else:
        assert after[1] == before[1] + 1
