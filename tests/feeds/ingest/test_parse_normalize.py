"""Parsing every feed format and normalising entries into clean Articles."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from feeds.common.errors import InvalidArticle, NotAFeed
from feeds.ingest.normalize import EntryContext, entry_from_data, normalize_entry
from feeds.ingest.parse import parse_feed
from feeds.ingest.pipeline import Ingestor
from feeds.ingest.text import clean_text, slugify
from store.language import guess_language
from store.urls import canonical_url
from tests.support.env import fixture_bytes
from tests.support.feedbuilder import rss, story

NOW = datetime(2024, 5, 22, 0, 0, tzinfo=UTC)
CTX = EntryContext(category="the-thao", now=NOW, source_id=1)


def articles_of(name: str, ctx: EntryContext = CTX):
    parsed = parse_feed(fixture_bytes(name), url="https://bao.example.vn/rss/feed.rss")
    return parsed, [normalize_entry(e, ctx) for e in parsed.entries]


def test_rss20_vietnamese_entry_becomes_a_complete_article() -> None:
    parsed, arts = articles_of("the-thao.rss")
    assert parsed.format == "rss20" and parsed.warning is None
    assert parsed.ttl_minutes == 30
    assert parsed.skip_hours == (1, 2, 3) and parsed.skip_days == ("Sunday",)
    a = arts[0]
    assert a.title == "Đội tuyển Việt Nam thắng Thái Lan 2-1 tại Mỹ Đình"
    # tracking parameters removed from the canonical URL
    assert a.url == "https://bao.example.vn/the-thao/doi-tuyen-viet-nam-thang-thai-lan-101.html"
    assert a.guid == "bao-101"
    assert a.published == datetime(2024, 5, 21, 13, 15, tzinfo=UTC)
    assert a.author == "Nguyễn Văn Hùng"
    assert a.tags == ("Bóng đá", "Đội tuyển")
    assert a.image.url == "https://img.example.vn/2024/05/21/mydinh-1200.jpg"
    assert a.image.width == 1200 and a.image.type == "image/jpeg"
    assert a.language == "vi"
    assert a.summary.startswith("Hai bàn thắng trong hiệp hai")
    assert "Quang Hải" in a.text and "<p>" in a.content_html


def test_related_link_boxes_stay_in_content_but_not_in_index_text() -> None:
    _, arts = articles_of("the-thao.rss")
    a = arts[0]
    assert "Giá vàng tăng mạnh" in a.content_html
    assert "Giá vàng tăng mạnh" in a.text
    assert "Giá vàng tăng mạnh" not in a.index_text
    assert "Huấn luyện viên cho biết" in a.index_text
    # A bare list of links (Thanh Niên style) is a related box too; the summary drops it.
    c = arts[2]
    assert "Tin liên quan một" in c.text
    assert "Tin liên quan" not in c.index_text and "Tin liên quan" not in c.summary


def test_lead_image_from_enclosure_and_from_first_img() -> None:
    _, arts = articles_of("the-thao.rss")
    assert arts[1].image.url == "https://img.example.vn/2024/05/21/vinh.png"
    assert arts[1].image.length == 48213 and arts[1].image.type == "image/png"
    assert arts[2].image.url == "https://img.example.vn/2024/05/20/boi.jpg?w=500&h=300"


def test_missing_date_becomes_first_seen_time() -> None:
    _, arts = articles_of("the-thao.rss")
    assert arts[2].published == NOW and arts[2].first_seen == NOW


@pytest.mark.parametrize(
    ("name", "fmt", "title", "language"),
    [
        ("world.atom", "atom10", "Leaders meet in Geneva for climate talks", "en"),
        ("tech.rdf", "rss10", "Trí tuệ nhân tạo thay đổi cách làm báo", "vi"),
        ("old.rss091", "rss091u", "Café opens downtown", "en"),
        ("blog.atom03", "atom03", "Hello from Atom 0.3", "en"),
    ],
)
def test_every_format(name: str, fmt: str, title: str, language: str) -> None:
    parsed, arts = articles_of(name)
    assert parsed.format.startswith(fmt[:5])
    assert arts[0].title == title
    assert arts[0].language == language
    assert arts[0].url.startswith("http")


def test_atom_relative_links_resolve_and_dates_are_utc() -> None:
    parsed = parse_feed(fixture_bytes("world.atom"), url="https://times.example.com/world.atom")
    a = normalize_entry(parsed.entries[0], CTX)
    assert a.url == "https://times.example.com/world/climate-talks-geneva"
    assert a.published == datetime(2024, 5, 21, 7, 30, tzinfo=UTC)
    assert a.updated == datetime(2024, 5, 21, 11, 0, tzinfo=UTC)
    assert a.image.url == "https://times.example.com/img/geneva.jpg"
    assert a.author == "Jane Doe"


def test_nfd_vietnamese_is_stored_nfc() -> None:
    title = "Hòa Bình: thủy điện xả lũ, người dân khỏe mạnh"
    body = "Người dân tỉnh Hòa Bình được sơ tán an toàn trước khi thủy điện xả lũ lần thứ hai."
    nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
    assert nfd(title) != title
    data = rss(
        [
            {
                "title": nfd(title),
                "link": "https://bao.example.vn/hoa-binh.html",
                "description": nfd(body),
                "author": nfd("Trần Thị Hòa"),
            }
        ]
    )
    a = normalize_entry(parse_feed(data).entries[0], CTX)
    assert a.title == title and a.summary == body and a.text == body
    for field in (a.title, a.text, a.summary, a.author, a.content_html):
        assert unicodedata.is_normalized("NFC", field)
    assert a.content_html == f"<p>{body}</p>" or body in a.content_html


def test_xss_payloads_are_removed() -> None:
    _parsed, arts = articles_of("xss.rss")
    a = arts[0]
    for field in (a.content_html, a.title, a.summary, a.text):
        lowered = field.lower()
        for bad in (
            "<script",
            "onerror",
            "onclick",
            "onload",
            "javascript:",
            "<iframe",
            "<style",
            "<svg",
            "<form",
            "<object",
            "data:image",
            "position:fixed",
        ):
            assert bad not in lowered, (bad, field)
    assert "Nội dung" in a.text
    assert a.title == 'alert("title")Tiêu đề độc hại' or "<" not in a.title


def test_malformed_xml_is_read_leniently_with_a_warning() -> None:
    parsed, arts = articles_of("malformed.rss")
    assert "not well-formed" in parsed.warning
    assert arts[0].title == "Israel rời Hội đồng Nhân quyền LHQ"
    assert arts[0].image.url == "https://img.hong.example.vn/a.jpg?w=1200&h=0&q=100"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b'{"items": []}', "JSON"),
        (fixture_bytes("page.html"), "HTML page"),
        (b"\x00\x01\x02binary", "not an RSS or Atom feed"),
    ],
)
def test_not_a_feed_is_a_clear_error(body: bytes, words: str) -> None:
    with pytest.raises(NotAFeed, match=words):
        parse_feed(body)


def test_entry_without_link_is_refused() -> None:
    data = rss([{"title": "Không có đường dẫn", "guid": "abc", "description": "x"}])
    with pytest.raises(InvalidArticle, match="no http"):
        normalize_entry(parse_feed(data).entries[0], CTX)


def test_future_dates_are_clamped_to_now() -> None:
    data = rss(
        [
            {
                "title": "Tin từ tương lai",
                "link": "https://bao.example.vn/f.html",
                "pub": datetime(2099, 1, 1, tzinfo=UTC),
            }
        ]
    )
    assert normalize_entry(parse_feed(data).entries[0], CTX).published == NOW


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Thời sự", "thoi-su"),
        ("Đời sống", "doi-song"),
        ("Sức khỏe", "suc-khoe"),
        ("Thể thao", "the-thao"),
        ("Kinh doanh & Tài chính", "kinh-doanh-tai-chinh"),
        ("Khoa học - Công nghệ", "khoa-hoc-cong-nghe"),
        ("World News", "world-news"),
        (unicodedata.normalize("NFD", "Giải trí"), "giai-tri"),
    ],
)
def test_slugs_from_vietnamese_names(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://VnExpress.net/a-1.html?utm_source=fb&utm_campaign=x#top",
            "https://vnexpress.net/a-1.html",
        ),
        ("http://bao.vn:80/a?b=2&a=1&fbclid=zz", "http://bao.vn/a?a=1&b=2"),
        ("https://bao.vn", "https://bao.vn/"),
        (
            "https://vnexpress.net/x.html?vn_source=zalo&zarsrc=30&id=5",
            "https://vnexpress.net/x.html?id=5",
        ),
    ],
)
def test_canonical_urls(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_clean_text_removes_invisible_characters() -> None:
    assert clean_text("Hà\u200b  Nội\ufeff\u00a0mùa\tthu \u00d0ẹp") == "Hà Nội mùa thu Đẹp"
    # each of them, inside a word and in a long Vietnamese line (one regex finds them all)
    line = "Thủ tướng đề nghị các bộ, ngành đẩy nhanh tiến độ giải ngân vốn đầu tư công. " * 40
    for invisible in "\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad\u061c":
        assert clean_text(f"Hà{invisible}Nội {line}{invisible}") == f"HàNội {line.strip()}"


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_are_removed_from_titles_and_names(sqlite_store) -> None:
    """Issue 12: bidi embeddings, overrides and isolates survived in titles and names, where
    they reorder what a reader sees ("\u202egpj.exe" shows as "exe.jpg")."""
    assert clean_text(f"Tin{BIDI} nóng \u202egpj.exe") == "Tin nóng gpj.exe"
    ingestor = Ingestor(sqlite_store, clock=lambda: NOW)
    feed = rss([story(1, title="Giá vàng \u202ehôm nay\u202c tăng", description=f"Tóm{BIDI} tắt")])
    assert ingestor.ingest_bytes(feed, target="f.rss", category="kinh-te").ok
    pushed = ingestor.ingest_article(
        {"url": "https://cms.example.vn/b", "title": f"\u2066Bài{BIDI} mới", "category": "x"}
    )
    for article in (sqlite_store.latest_articles(category="kinh-te")[0], pushed):
        for text in (article.title, article.summary, article.text):
            assert not set(text) & set(BIDI), repr(text)
    category = ingestor.ensure_category("the-thao", "\u2067Thể thao\u2069")
    source = ingestor.add_source("https://bao.example.vn/rss", "the-thao", name="\u202eBáo")
    assert (category.name, source.name) == ("Thể thao", "Báo")


def test_language_guess() -> None:
    assert (
        guess_language("The government announced new measures on Tuesday to curb inflation.")
        == "en"
    )
    assert (
        guess_language("Chính phủ công bố các biện pháp mới nhằm kiềm chế lạm phát trong năm nay.")
        == "vi"
    )


def test_pushed_article_is_validated_and_normalised() -> None:
    entry = entry_from_data(
        {
            "url": "https://cms.example.vn/bai-1?utm_medium=x",
            "title": unicodedata.normalize("NFD", "Khỏe mạnh mỗi ngày"),
            "category": "suc-khoe",
            "content_html": "<p>Bài <script>x()</script>viết</p>",
            "published": "2024-05-01T08:00:00+07:00",
            "tags": ["sức khỏe"],
            "image": "https://cms.example.vn/a.jpg",
        }
    )
    a = normalize_entry(entry, EntryContext("suc-khoe", NOW))
    assert a.url == "https://cms.example.vn/bai-1"
    assert a.title == "Khỏe mạnh mỗi ngày"
    assert a.content_html == "<p>Bài viết</p>"
    assert a.published == datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert a.image.url == "https://cms.example.vn/a.jpg"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "x"}, "'url' is required"),
        ({"url": "ftp://x/y", "title": "x"}, "'url'"),
        ({"url": "https://x.vn/", "title": ""}, "'title' is required"),
        ({"url": "https://x.vn/", "title": "x", "published": "yesterday"}, "'published'"),
        ({"url": "https://x.vn/", "title": "x", "published": "2024-05-01T08:00:00"}, "time zone"),
        ({"url": "https://x.vn/", "title": "x", "tags": "a,b"}, "'tags'"),
        ({"url": "https://x.vn/", "title": "x", "colour": "red"}, "unknown field"),
        ([1, 2], "JSON object"),
    ],
)
def test_pushed_article_errors_name_the_field(data: object, message: str) -> None:
    if isinstance(data, dict):
        data = {"category": "thoi-su", **data}
    with pytest.raises(InvalidArticle, match=message):
        entry_from_data(data)  # type: ignore[arg-type]
