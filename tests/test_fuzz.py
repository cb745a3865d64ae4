"""No input may crash or hang ingestion: every body ends as stored articles or a clear error."""

from __future__ import annotations

import tempfile
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from feeds.ingest import Ingestor
from store.sqlite import SQLiteStore
from tests.conftest import FIXTURES
from tests.feedbuilder import rss, story

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
