"""Feed publishing: every format validates clean and reads back intact in real parsers.

Articles come from ingesting real RSS bytes (a hand-written Vietnamese fixture with an NFD
title, relative links, a numeric guid, an e-mail author and same-minute stories; and, when
/work/shared is present, the three real Vietnamese feeds). Validation uses `tests.support.feedrules`
(the W3C Feed Validation Service's rules, offline); read-back uses feedparser, the `reader`
library over real HTTP, and the JavaScript `rss-parser` under node.
"""

from __future__ import annotations

import calendar
import dataclasses
import html
import json
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.ingest.opml import read_opml
from feeds.ingest.pipeline import Ingestor
from feeds.publish.formats import (
    ATOM_CONTENT_TYPE,
    JSON_FEED_CONTENT_TYPE,
    OPML_CONTENT_TYPE,
    RSS_CONTENT_TYPE,
    FeedItem,
    FeedListing,
    FeedPage,
    content_etag,
    last_modified,
    render_atom,
    render_json_feed,
    render_opml,
    render_rss,
)
from store.models import Article, Category, FullText, Image
from store.sqlite import SQLiteStore
from tests.support.env import SHARED, TESTS, fixture_bytes
from tests.support.feedrules import check_feed, check_json_feed, problems
from tests.support.feedserver import FeedServer, Reply

SITE = "https://quantam.example"
REAL_FEEDS = SHARED / "data" / "feeds" / "vi"
JS_DIR = TESTS / "support" / "js"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
EXTENSIONS = {"rss": "rss", "atom": "atom", "json": "json"}
RENDER = {"rss": render_rss, "atom": render_atom, "json": render_json_feed}
CONTENT_TYPES = {"rss": RSS_CONTENT_TYPE, "atom": ATOM_CONTENT_TYPE, "json": JSON_FEED_CONTENT_TYPE}


# -- building pages from ingested articles ----------------------------------------------------


def ingest(store: SQLiteStore, body: bytes, target: str, category: str) -> list[Article]:
    report = Ingestor(store).ingest_bytes(body, target=target, category=category)
    assert report.ok, report.error
    return store.latest_articles(category=category, limit=500)


@pytest.fixture
def articles(sqlite_store: SQLiteStore) -> list[Article]:
    # The target is a path, so nothing resolves the fixture's relative links on the way in:
    # the publisher has to.
    return ingest(sqlite_store, fixture_bytes("publish-vi.rss"), "publish-vi.rss", "thoi-su")


CATEGORY = Category("thoi-su", "Thời sự")


def page_for(
    articles: list[Article], fmt: str, category: Category = CATEGORY, **changes: object
) -> FeedPage:
    """A page as the HTTP layer would build it: format-specific URLs, related stories."""
    base = f"{SITE}/feeds/{category.slug}.{EXTENSIONS[fmt]}"
    items = [
        FeedItem(a, related=[b for b in articles if b.id != a.id][:2], category=category)
        for a in articles
    ]
    page = FeedPage(
        title=f"{category.name} – quantam",
        description=f"Tin {category.name.lower()} mới nhất",
        self_url=base,
        feed_url=base,
        first_url=base,
        next_url=f"{base}?before=2022-11-21T00%3A00%3A00Z~abc",
        home_url=f"{SITE}/{category.slug}",
        hub_url="https://hub.quantam.example/",
        icon_url=f"{SITE}/static/icon.png",
        items=items,
    )
    return dataclasses.replace(page, **changes)  # type: ignore[arg-type]


def validate(fmt: str, body: bytes, location: str) -> list[str]:
    if fmt == "json":
        return problems(check_json_feed(body))
    return problems(check_feed(body, location))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_every_format_passes_the_validator_rules(articles: list[Article], fmt: str) -> None:
    page = page_for(articles, fmt)
    assert validate(fmt, RENDER[fmt](page), page.self_url) == []


def test_opml_lists_every_category_feed_and_validates() -> None:
    categories = [Category("thoi-su", "Thời sự"), Category("the-thao", "Thể thao")]
    listings = [
        FeedListing(c, f"{SITE}/feeds/{c.slug}.rss", f"{SITE}/{c.slug}") for c in categories
    ]
    body = render_opml(
        "quantam – các chuyên mục", listings, created=datetime(2024, 5, 1, tzinfo=UTC)
    )
    assert problems(check_feed(body, f"{SITE}/feeds.opml")) == []
    feeds = read_opml(body)
    assert [(f.category_slug, f.category_name, f.url) for f in feeds] == [
        ("thoi-su", "Thời sự", f"{SITE}/feeds/thoi-su.rss"),
        ("the-thao", "Thể thao", f"{SITE}/feeds/the-thao.rss"),
    ]
    assert OPML_CONTENT_TYPE.startswith("text/x-opml")


def test_an_empty_page_needs_a_date_and_then_validates() -> None:
    page = FeedPage(title="Thể thao", self_url=f"{SITE}/feeds/the-thao.rss", home_url=SITE)
    with pytest.raises(ValueError, match="updated"):
        render_rss(page)
    page = dataclasses.replace(page, updated=datetime(2024, 5, 1, 8, tzinfo=UTC))
    for fmt in ("rss", "atom", "json"):
        assert validate(fmt, RENDER[fmt](page), page.self_url) == []
    assert last_modified(page) == datetime(2024, 5, 1, 8, tzinfo=UTC)


def test_self_link_is_the_exact_requested_url(articles: list[Article]) -> None:
    url = f"{SITE}/feeds/thoi-su.rss?limit=2"
    page = page_for(articles, "rss", self_url=url)
    body = render_rss(page)
    assert validate("rss", body, url) == []
    assert any("SelfDoesntMatchLocation" in p for p in validate("rss", body, f"{SITE}/other.rss"))


# -- stable bytes, order, ETag ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_bytes_are_stable_and_do_not_depend_on_input_order(
    articles: list[Article], fmt: str
) -> None:
    page = page_for(articles, fmt)
    shuffled = dataclasses.replace(page, items=list(reversed(page.items)))
    first = RENDER[fmt](page)
    assert RENDER[fmt](page) == first
    assert RENDER[fmt](shuffled) == first
    assert content_etag(RENDER[fmt](shuffled)) == content_etag(first)


def test_build_time_is_the_newest_item_not_now(articles: list[Article]) -> None:
    newest = max(a.published for a in articles)
    rss = feedparser.parse(render_rss(page_for(articles, "rss")))
    assert calendar.timegm(rss.feed.updated_parsed) == int(newest.timestamp())
    atom = etree.fromstring(render_atom(page_for(articles, "atom")))
    updated = datetime.fromisoformat(atom.findtext(f"{ATOM_NS}updated"))
    assert newest <= updated < newest + timedelta(seconds=1)
    assert last_modified(page_for(articles, "rss")) == newest


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_items_are_newest_first(articles: list[Article], fmt: str) -> None:
    page = page_for(articles, fmt, items=list(reversed(page_for(articles, fmt).items)))
    expected = [a.url for a in sorted(articles, key=lambda a: (a.published, a.id), reverse=True)]
    assert links_of(fmt, RENDER[fmt](page)) == expected


def links_of(fmt: str, body: bytes) -> list[str]:
    if fmt == "json":
        return [item["url"] for item in json.loads(body)["items"]]
    return [entry.link for entry in feedparser.parse(body).entries]


def test_etag_is_strong_and_follows_the_content(articles: list[Article]) -> None:
    page = page_for(articles, "rss")
    etag = content_etag(render_rss(page))
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    edited = dataclasses.replace(
        page, items=[*page.items[:-1], dataclasses.replace(page.items[-1], related=())]
    )
    assert content_etag(render_rss(edited)) != etag
    taken_down = dataclasses.replace(page, items=page.items[:-1])
    assert content_etag(render_rss(taken_down)) != etag


def test_atom_updated_is_unique_within_the_second_of_the_story(articles: list[Article]) -> None:
    same_minute = [a for a in articles if a.published == max(a.published for a in articles)]
    assert len(same_minute) == 2, "the fixture has two stories at 09:00"
    feed = etree.fromstring(render_atom(page_for(articles, "atom")))
    stamps = [
        datetime.fromisoformat(e.findtext(f"{ATOM_NS}updated"))
        for e in feed.iter(f"{ATOM_NS}entry")
    ]
    assert len(set(stamps)) == len(stamps)
    by_url = {e.find(f"{ATOM_NS}link").get("href"): e for e in feed.iter(f"{ATOM_NS}entry")}
    for article in articles:
        entry = by_url[article.url]
        updated = datetime.fromisoformat(entry.findtext(f"{ATOM_NS}updated"))
        assert article.published <= updated < article.published + timedelta(seconds=1)
        assert datetime.fromisoformat(entry.findtext(f"{ATOM_NS}published")) == article.published
    for article in same_minute:
        alone = etree.fromstring(render_atom(page_for([article], "atom")))
        assert alone.find(f"{ATOM_NS}entry").findtext(f"{ATOM_NS}updated") == by_url[
            article.url
        ].findtext(f"{ATOM_NS}updated"), "an entry's atom:updated must not depend on the page"


# -- read back: feedparser --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_everything_back(articles: list[Article], fmt: str) -> None:
    page = page_for(articles, fmt)
    parsed = feedparser.parse(RENDER[fmt](page))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == {"rss": "rss20", "atom": "atom10"}[fmt]
    assert parsed.feed.title == "Thời sự – quantam"
    assert parsed.feed.language == "vi"
    feed_links = {link.rel: link.href for link in parsed.feed.links}
    assert feed_links["self"] == page.self_url
    assert feed_links["next"] == page.next_url
    assert feed_links["first"] == page.first_url
    assert feed_links["hub"] == page.hub_url
    by_link = {entry.link: entry for entry in parsed.entries}
    assert set(by_link) == {a.url for a in articles}
    for item in page.items:
        article, entry = item.article, by_link[item.article.url]
        assert entry.title == article.title == nfc(entry.title)
        assert calendar.timegm(entry.published_parsed) == int(article.published.timestamp())
        related = [(link.href, link.get("title")) for link in entry.links if link.rel == "related"]
        assert related == [(r.url, r.title) for r in item.related]
        assert "Thời sự" in [tag.term if fmt == "rss" else tag.label for tag in entry.tags]
    bus = by_link["https://tintuc.example.vn/thoi-su/ha-noi-mo-them-3-tuyen-buyt-dien-1001.html"]
    assert bus.author == "Nguyễn Văn An"
    assert {"Giao thông", "Hà Nội"} <= {tag.term for tag in bus.tags}
    image = "https://cdn.example.vn/anh/2022/11/buyt-dien.jpg"
    assert bus.media_thumbnail[0]["url"] == image
    assert bus.media_content[0]["url"] == image
    enclosure = next(link for link in bus.links if link.rel == "enclosure")
    assert (enclosure.href, enclosure.type, enclosure.length) == (image, "image/jpeg", "84213")
    html = bus.content[0].value
    assert 'href="https://tintuc.example.vn/thoi-su/san-bay-noi-bai.html"' in html
    assert 'src="https://tintuc.example.vn/anh/2022/11/buyt-dien.jpg"' in html
    assert "<bdo" not in html and "đọc ngược" in html


def test_guid_is_a_permalink_only_when_it_is_the_article_url(articles: list[Article]) -> None:
    root = etree.fromstring(render_rss(page_for(articles, "rss")))
    guids = {item.findtext("link"): item.find("guid") for item in root.iter("item")}
    bus = guids["https://tintuc.example.vn/thoi-su/ha-noi-mo-them-3-tuyen-buyt-dien-1001.html"]
    assert (bus.get("isPermaLink"), bus.text) == ("true", bus.getparent().findtext("link"))
    no_guid = guids["https://tintuc.example.vn/kinh-te/gia-xang-giam-1003.html"]
    assert no_guid.get("isPermaLink") == "true"
    numeric = guids["https://tintuc.example.vn/du-lich/da-nang-don-khach-quoc-te-1002.html"]
    assert numeric.get("isPermaLink") == "false"
    assert numeric.text.startswith("urn:uuid:"), "a bare number is not unique across sources"
    atom = etree.fromstring(render_atom(page_for(articles, "atom")))
    assert numeric.text in {e.findtext(f"{ATOM_NS}id") for e in atom.iter(f"{ATOM_NS}entry")}
    again = etree.fromstring(render_rss(page_for(articles[:2], "rss")))
    assert numeric.text in {g.text for g in again.iter("guid")}, "ids do not depend on the page"


def test_titles_stay_nfc_vietnamese_in_every_format(articles: list[Article]) -> None:
    title = "Đà Nẵng đón khách quốc tế đầu tiên sau mùa mưa bão"
    assert unicodedata.normalize("NFD", title).encode() in fixture_bytes("publish-vi.rss")
    for fmt in ("rss", "atom", "json"):
        body = RENDER[fmt](page_for(articles, fmt))
        assert title.encode() in body
        assert unicodedata.normalize("NFD", title).encode() not in body


def test_urls_are_ascii_and_absolute_everywhere(articles: list[Article]) -> None:
    body = render_rss(page_for(articles, "rss"))
    parsed = feedparser.parse(body)
    fuel = next(e for e in parsed.entries if e.link.endswith("gia-xang-giam-1003.html"))
    image = "https://cdn.example.vn/anh/2022/11/xang%20dau%20%E1%BA%A3nh.webp"
    assert fuel.media_thumbnail[0]["url"] == image
    assert f'src="{image}"' in fuel.content[0].value
    assert 'href="https://tintuc.example.vn/kinh-te/bang-gia.html"' in fuel.content[0].value
    for link in etree.fromstring(body).iter("link", "enclosure", f"{ATOM_NS}link"):
        url = link.get("href") or link.get("url") or link.text
        assert url.isascii() and url.startswith("https://"), url


def test_image_of_unknown_type_is_a_thumbnail_but_no_enclosure(articles: list[Article]) -> None:
    parsed = feedparser.parse(render_rss(page_for(articles, "rss")))
    aff = next(e for e in parsed.entries if e.link.endswith("aff-cup-1004.html"))
    assert aff.media_thumbnail[0] == {
        "url": "https://cdn.example.vn/anh/2022/11/aff-cup.jpg",
        "width": "300",
        "height": "200",
    }
    danang = next(e for e in parsed.entries if e.link.endswith("1002.html"))
    enclosure = next(link for link in danang.links if link.rel == "enclosure")
    assert enclosure.length == "0", "unknown length is 0 (the validator's UseZeroForUnknown)"


# -- JSON Feed --------------------------------------------------------------------------------


def test_json_feed_carries_paging_hub_images_and_related(articles: list[Article]) -> None:
    page = page_for(articles, "json")
    feed = json.loads(render_json_feed(page))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == page.self_url and feed["next_url"] == page.next_url
    assert feed["hubs"] == [{"type": "WebSub", "url": page.hub_url}]
    assert feed["language"] == "vi"
    items = {item["url"]: item for item in feed["items"]}
    bus = items["https://tintuc.example.vn/thoi-su/ha-noi-mo-them-3-tuyen-buyt-dien-1001.html"]
    assert bus["image"] == "https://cdn.example.vn/anh/2022/11/buyt-dien.jpg"
    assert bus["attachments"] == [
        {"url": bus["image"], "mime_type": "image/jpeg", "size_in_bytes": 84213}
    ]
    assert bus["authors"] == [{"name": "Nguyễn Văn An"}]
    assert bus["tags"] == ["Thời sự", "Giao thông", "Hà Nội"]
    assert bus["date_published"] == "2022-11-21T02:00:00+00:00"
    item = next(i for i in page.items if i.article.url == bus["url"])
    assert bus["_quantam"]["related"] == [{"url": r.url, "title": r.title} for r in item.related]
    assert 'href="https://tintuc.example.vn/thoi-su/san-bay-noi-bai.html"' in bus["content_html"]


# -- read back: the reader library over real HTTP ---------------------------------------------


@pytest.fixture
def served(articles: list[Article]) -> Iterator[tuple[FeedServer, dict[str, str]]]:
    server = FeedServer()
    urls = {}
    for fmt in ("rss", "atom", "json"):
        path = f"/feeds/thoi-su.{EXTENSIONS[fmt]}"
        page = page_for(articles, fmt, self_url=server.url(path), feed_url=server.url(path))
        urls[fmt] = server.route(
            path, Reply(body=RENDER[fmt](page), content_type=CONTENT_TYPES[fmt])
        )
    server.start()
    yield server, urls
    server.stop()


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_reader_library_reads_every_format(
    served: tuple[FeedServer, dict[str, str]], articles: list[Article], fmt: str
) -> None:
    from reader import make_reader

    reader = make_reader(":memory:")
    url = served[1][fmt]
    reader.add_feed(url)
    reader.update_feeds()
    feed = reader.get_feed(url)
    assert feed.last_exception is None
    assert feed.title == "Thời sự – quantam"
    entries = {entry.link: entry for entry in reader.get_entries(feed=url)}
    assert set(entries) == {a.url for a in articles}
    for article in articles:
        entry = entries[article.url]
        assert entry.title == article.title
        assert entry.published == article.published
    bus = entries["https://tintuc.example.vn/thoi-su/ha-noi-mo-them-3-tuyen-buyt-dien-1001.html"]
    # reader renamed Entry.author to authors_str in 3.x; accept either.
    author = bus.authors_str if hasattr(type(bus), "authors_str") else bus.author
    assert author == "Nguyễn Văn An"
    assert [(e.href, e.type) for e in bus.enclosures] == [
        ("https://cdn.example.vn/anh/2022/11/buyt-dien.jpg", "image/jpeg")
    ]
    html = bus.content[0].value if bus.content else ""
    assert 'href="https://tintuc.example.vn/thoi-su/san-bay-noi-bai.html"' in html
    reader.close()


# -- read back: rss-parser (JavaScript) -------------------------------------------------------


def node_readback(paths: list[Path]) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the rss-parser read-back needs Node.js")
    if not (JS_DIR / "node_modules" / "rss-parser").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            check=True,
            timeout=300,
            capture_output=True,
        )
    done = subprocess.run(
        [node, "readback.mjs", *map(str, paths)],
        cwd=JS_DIR,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def test_rss_parser_reads_rss_and_atom_back(articles: list[Article], tmp_path: Path) -> None:
    paths = {}
    for fmt in ("rss", "atom"):
        paths[fmt] = tmp_path / f"thoi-su.{fmt}"
        paths[fmt].write_bytes(RENDER[fmt](page_for(articles, fmt)))
    result = node_readback(list(paths.values()))
    for fmt, path in paths.items():
        page = page_for(articles, fmt)
        feed = result[str(path)]
        assert feed["title"] == "Thời sự – quantam"
        assert {"rel": "next", "href": page.next_url} in [
            {"rel": link.get("rel"), "href": link["href"]} for link in feed["links"]
        ]
        items = {item["link"]: item for item in feed["items"]}
        assert set(items) == {a.url for a in articles}
        for item in page.items:
            got = items[item.article.url]
            assert got["title"] == item.article.title
            published = datetime.fromisoformat(got["isoDate"].replace("Z", "+00:00"))
            assert published == item.article.published
            related = [
                (link["href"], link.get("title"))
                for link in got["links"]
                if link.get("rel") == "related"
            ]
            assert related == [(r.url, r.title) for r in item.related]
        bus = items["https://tintuc.example.vn/thoi-su/ha-noi-mo-them-3-tuyen-buyt-dien-1001.html"]
        assert bus["thumbnail"] == "https://cdn.example.vn/anh/2022/11/buyt-dien.jpg"
        assert "https://tintuc.example.vn/thoi-su/san-bay-noi-bai.html" in bus["content"]
        if fmt == "rss":
            assert bus["creator"] == "Nguyễn Văn An"
            assert bus["enclosure"]["type"] == "image/jpeg"


# -- robustness -------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, summary=_TEXT, author=_TEXT, tag=_TEXT)
def test_any_text_renders_as_valid_feeds(title: str, summary: str, author: str, tag: str) -> None:
    published = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC)
    article = Article(
        id="a1",
        url="https://tintuc.example.vn/bai-1.html",
        title=title,
        category="thoi-su",
        summary=summary,
        content_html=f"<p>{summary}</p>",
        author=author,
        tags=(tag,),
        published=published,
        image=Image("https://cdn.example.vn/ảnh.jpg"),
    )
    for fmt in ("rss", "atom"):
        page = page_for([article], fmt)
        body = RENDER[fmt](page)
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == 1
        assert parsed.entries[0].title == parsed.entries[0].title.strip()
        assert nfc(parsed.entries[0].title) == parsed.entries[0].title
    json.loads(render_json_feed(page_for([article], "json")))


_MARKUP_LIKE = st.text(st.sampled_from("aăâbđêơư ÂĐỆ&<;#x0123amplt"), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_MARKUP_LIKE, tag=_MARKUP_LIKE, related=_MARKUP_LIKE)
def test_text_that_looks_like_markup_still_validates_clean(
    title: str, tag: str, related: str
) -> None:
    published = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC)
    first = Article(
        id="a1",
        url="https://tintuc.example.vn/bai-1.html",
        title=title,
        category="thoi-su",
        summary=title,
        tags=(tag,),
        published=published,
    )
    second = dataclasses.replace(
        first, id="a2", url="https://tintuc.example.vn/bai-2.html", title=related
    )
    for fmt in ("rss", "atom", "json"):
        page = page_for([first, second], fmt)
        assert validate(fmt, RENDER[fmt](page), page.self_url) == []


def test_a_category_name_reaches_rss_readers_as_text(articles: list[Article]) -> None:
    """Issue 12: the channel <description> carried the name escaped once, so readers, which
    render RSS descriptions as HTML (item descriptions are escaped for that), saw live markup."""
    name = '<script>alert(1)</script> & <b>"Thể thao"</b>'
    category = Category("the-thao", name)
    page = page_for(articles, "rss", category=category, description=f"Tin mới nhất: {name}")
    body = render_rss(page)
    # The validator rightly warns of HTML-like text in <title> and <category>, plain text
    # elements that carry the name as it is; <description> is not among them any more.
    remarks = validate("rss", body, page.self_url)
    assert not [r for r in remarks if r.startswith("error") or "<description>" in r], remarks
    carried = etree.fromstring(body).findtext("channel/description")
    assert "<" not in carried  # no markup once the XML is read
    assert html.unescape(carried) == f"Tin mới nhất: {name}"  # the name, as text, once rendered
    item = etree.fromstring(body).findtext("channel/item/description")
    assert "<" not in item  # as item descriptions always were


# -- the real Vietnamese feeds ----------------------------------------------------------------


@pytest.mark.skipif(not REAL_FEEDS.is_dir(), reason="/work/shared (real Vietnamese feeds) absent")
def test_real_vietnamese_feeds_publish_clean_in_every_format(sqlite_store: SQLiteStore) -> None:
    category = Category("the-gioi", "Thế giới")
    articles: list[Article] = []
    for path in sorted(REAL_FEEDS.iterdir()):
        # The trimmed VnExpress file is not well-formed: ingestion reads it leniently.
        articles = ingest(sqlite_store, path.read_bytes(), str(path), category.slug)
    assert len(articles) >= 150
    for fmt in ("rss", "atom", "json"):
        page = page_for(articles, fmt, category=category)
        body = RENDER[fmt](page)
        assert validate(fmt, body, page.self_url) == [], fmt
        if fmt != "json":
            parsed = feedparser.parse(body)
            assert parsed.bozo == 0
            titles = {entry.link: entry.title for entry in parsed.entries}
            assert titles == {a.url: a.title for a in articles}


# -- full text --------------------------------------------------------------------------------

PAGE_HTML = (
    '<p>Toàn văn bài viết với <a href="/lien-ket.html">một liên kết</a> và nhiều đoạn.</p>'
    "<p>Đoạn thứ hai của bài viết đầy đủ.</p>"
)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_feeds_carry_the_full_text_and_keep_the_summary_as_description(
    articles: list[Article], fmt: str
) -> None:
    full = [
        a.replace(
            fulltext=FullText(
                "full", origin="page", html=PAGE_HTML, at=datetime(2024, 1, 1, tzinfo=UTC)
            )
        )
        for a in articles
    ]
    page = page_for(full, fmt)
    body = RENDER[fmt](page)
    assert validate(fmt, body, page.self_url) == []
    if fmt == "json":
        entries = [(i["content_html"], i["summary"]) for i in json.loads(body)["items"]]
    else:
        entries = [(e.content[0].value, e.summary) for e in feedparser.parse(body).entries]
    assert len(entries) == len(full)
    for content, summary in entries:
        assert "Toàn văn bài viết" in content and "Toàn văn" not in summary
        # relative links inside the full text are made absolute against the article's URL
        assert "/lien-ket.html" in content and 'href="/lien-ket' not in content
    # the category can turn it off: the feed's own content again
    off = RENDER[fmt](
        page_for(full, fmt, category=dataclasses.replace(CATEGORY, feed_full_text=False))
    )
    assert "Toàn văn bài viết" not in off.decode()
    assert off == RENDER[fmt](
        page_for(articles, fmt, category=dataclasses.replace(CATEGORY, feed_full_text=False))
    )


def test_a_failed_or_pending_page_leaves_the_feed_content(articles: list[Article]) -> None:
    for status in ("failed", "pending", "summary"):
        marked = [
            a.replace(fulltext=FullText(status, origin="page", html=PAGE_HTML)) for a in articles
        ]
        assert render_rss(page_for(marked, "rss")) == render_rss(page_for(articles, "rss"))
