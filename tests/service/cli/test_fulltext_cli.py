"""`quantam fulltext`, `sources add/edit/list/export/import` with full text, `categories edit`:
the command line as a real process, a real SQLite file, a loopback news site."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.ingest.opml import BadOPML, read_opml
from service.config import ConfigError, load_settings
from store.sqlite import SQLiteStore
from tests.support.cli import quantam
from tests.support.feedserver import FeedServer, Reply
from tests.support.newssite import BUS, FOOTBALL, GOLD, NewsSite, Page, render

PRIVATE = {"QUANTAM_ALLOW_PRIVATE_FETCH": "1"}


def make_site(feed_server: FeedServer) -> tuple[NewsSite, list[str]]:
    site = NewsSite(feed_server)
    urls = [
        site.page(Page("xe-buyt", "Xe buýt điện ra sân bay", BUS, summary="Xe buýt điện.")),
        site.page(Page("gia-vang", "Giá vàng vượt 90 triệu", GOLD, summary="Giá vàng.")),
        site.page(Page("bong-da", "Tuyển Việt Nam thắng", FOOTBALL, summary="Bóng đá.")),
    ]
    return site, urls


def test_fulltext_reads_what_is_missing_and_goes_on_where_it_stopped(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    site, urls = make_site(feed_server)
    feed = tmp_path / "tin.rss"
    feed.write_bytes(site.feed_bytes(urls))
    db = tmp_path / "q.db"
    assert "3 new" in quantam(db, "ingest", str(feed), "--category", "thoi-su").stdout
    first = quantam(db, "fulltext", "--limit", "1", env=PRIVATE)
    assert "1 pages gave full text, 0 gave none" in first.stdout
    assert "full text" in first.stderr  # the progress bar
    rest = quantam(db, "fulltext", env=PRIVATE)
    assert "2 pages gave full text, 0 gave none" in rest.stdout
    assert "no article is waiting" in quantam(db, "fulltext", env=PRIVATE).stdout
    store = SQLiteStore(f"sqlite:///{db}")
    assert store.count_fulltext_by_source() == {None: {"full": 3}}
    assert [len(feed_server.requests_to(f"/{s}.html")) for s in ("xe-buyt", "gia-vang")] == [1, 1]
    store.close()


def test_fulltext_reports_pages_without_text_and_retries_them(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    site, urls = make_site(feed_server)
    gone = feed_server.url("/da-xoa.html")
    feed = tmp_path / "tin.rss"
    feed.write_bytes(site.feed_bytes([urls[0], gone]))
    db = tmp_path / "q.db"
    quantam(db, "ingest", str(feed), "--category", "thoi-su")
    result = quantam(db, "fulltext", "--since", "2020-01-01", env=PRIVATE)
    assert f"no text: {gone}: the page is not there (404 Not Found)" in result.stdout
    assert "1 pages gave full text, 1 gave none" in result.stdout
    feed_server.route(
        "/da-xoa.html",
        Reply(
            body=render(Page("da-xoa", "Bài đã khôi phục", GOLD), site.base),
            content_type="text/html; charset=utf-8",
        ),
    )
    again = quantam(db, "fulltext", "--retry-failed", env=PRIVATE)
    assert "1 pages gave full text, 0 gave none" in again.stdout
    bad = quantam(db, "fulltext", "--since", "hôm qua", check=False)
    assert bad.returncode == 2 and "'hôm qua' is not a date" in bad.stderr
    bad = quantam(db, "fulltext", "--source", "42", check=False)
    assert bad.returncode == 2 and "no source 42" in bad.stderr


def test_sources_show_edit_export_and_import_their_full_text(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    site, urls = make_site(feed_server)
    feed_url = site.feed("/rss", [*urls, feed_server.url("/da-xoa.html")])
    db = tmp_path / "q.db"
    added = quantam(
        db, "sources", "add", feed_url, "--category", "thoi-su", "--full-text", "always"
    )
    assert "(full text: always)" in added.stdout
    quantam(db, "poll", env=PRIVATE)
    listing = quantam(db, "sources", "list").stdout
    assert "full text (always): 3 full, 0 summary only, 1 failed" in listing
    assert "last page without text (" in listing and "(404 Not Found)" in listing
    as_json = quantam(db, "sources", "list", "--json").stdout
    assert '"full_text_articles": {"pending": 0, "full": 3, "summary": 0, "failed": 1}' in as_json
    assert "websub_secret" not in as_json and "websub_token" not in as_json
    assert "full text never" in quantam(db, "sources", "edit", "1", "--full-text", "never").stdout
    exported = tmp_path / "nguon.opml"
    quantam(db, "sources", "export", "-o", str(exported))
    assert 'fullText="never"' in exported.read_text()
    other = tmp_path / "other.db"
    quantam(other, "sources", "import", str(exported))
    assert "full text (never)" in quantam(other, "sources", "list").stdout
    bad = quantam(db, "sources", "edit", "1", "--full-text", "sometimes", check=False)
    assert (
        bad.returncode == 2 and "'sometimes' is not one of 'auto', 'always', 'never'" in bad.stderr
    )
    assert quantam(db, "sources", "edit", "1", check=False).returncode == 2


def test_categories_choose_whether_their_feeds_carry_full_text(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    quantam(db, "categories", "add", "Thời sự")
    assert "feeds carry full text" in quantam(db, "categories", "list").stdout
    edited = quantam(db, "categories", "edit", "thoi-su", "--no-feed-full-text")
    assert "thoi-su: Thời sự (feeds carry summaries)" in edited.stdout
    assert "feeds carry summaries" in quantam(db, "categories", "list").stdout
    missing = quantam(db, "categories", "edit", "khong-co", "--feed-full-text", check=False)
    assert missing.returncode == 1 and "no category 'khong-co'" in missing.stderr


def test_bad_full_text_settings_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timezone: 'Giờ Hà Nội' is not a time zone name"):
        load_settings(environ={"QUANTAM_TIMEZONE": "Giờ Hà Nội"})
    with pytest.raises(ConfigError, match="QUANTAM_FULL_TEXT_MIN_WORDS must be a whole number"):
        load_settings(environ={"QUANTAM_FULL_TEXT_MIN_WORDS": "nhiều"})
    opml = (
        b'<opml version="2.0"><body><outline text="The thao"><outline type="rss" text="A" '
        b'xmlUrl="https://a.vn/rss" fullText="sometimes"/></outline></body></opml>'
    )
    with pytest.raises(BadOPML, match="fullText='sometimes': it must be one of auto, always"):
        read_opml(opml)
