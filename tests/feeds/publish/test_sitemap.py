"""Sitemaps as the protocol (sitemaps.org 0.9) and Google News' rules define them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from feeds.publish import sitemap

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
NS = {"s": sitemap.SITEMAP_NS, "n": sitemap.NEWS_NS}
W3C = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _news(hours_ago: float, n: int = 0, title: str = "Tin") -> sitemap.NewsEntry:
    return sitemap.NewsEntry(
        f"https://bao.example.vn/tin-{hours_ago}-{n}.html",
        title,
        NOW - timedelta(hours=hours_ago),
    )


def test_news_sitemap_lists_the_last_48_hours_newest_first_at_most_1000() -> None:
    entries = [_news(1), _news(47.9), _news(48.1), _news(-1), _news(5)]
    chosen = sitemap.news_window(entries, NOW)
    assert [e.loc for e in chosen] == [_news(1).loc, _news(5).loc, _news(47.9).loc]
    many = [_news(h / 100, n) for n, h in enumerate(range(2000))]
    assert len(sitemap.news_window(many, NOW)) == sitemap.NEWS_MAX
    with pytest.raises(ValueError, match="at most 1000"):
        sitemap.render_news(many, "Báo", "vi")


def test_news_entries_carry_every_required_tag_escaped() -> None:
    title = 'Giá vàng <tăng> & "SJC" lập đỉnh'
    body = sitemap.render_news([_news(2, title=title)], "Báo Ví Dụ & Co", "vi")
    root = ET.fromstring(body)
    assert root.tag == f"{{{sitemap.SITEMAP_NS}}}urlset"
    (url,) = root.findall("s:url", NS)
    assert url.findtext("s:loc", namespaces=NS) == _news(2).loc
    news = url.find("n:news", NS)
    assert news is not None
    assert news.findtext("n:publication/n:name", namespaces=NS) == "Báo Ví Dụ & Co"
    assert news.findtext("n:publication/n:language", namespaces=NS) == "vi"
    assert news.findtext("n:title", namespaces=NS) == title
    date = news.findtext("n:publication_date", namespaces=NS)
    assert date is not None and W3C.fullmatch(date) and date == "2026-12-06T06:00:00Z"


def test_urlset_and_index_follow_the_protocol_limits() -> None:
    long = "https://bao.example.vn/" + "a" * 2100
    entries = [
        sitemap.Entry("https://bao.example.vn/1.html", NOW),
        sitemap.Entry(long),
        sitemap.Entry("javascript:alert(1)"),
        sitemap.Entry("https://bao.example.vn/2.html?a=1&b=2"),
    ]
    root = ET.fromstring(sitemap.render_urlset(entries))
    locs = [u.findtext("s:loc", namespaces=NS) for u in root.findall("s:url", NS)]
    # too long or not http(s): left out; the rest escaped and read back intact
    assert locs == ["https://bao.example.vn/1.html", "https://bao.example.vn/2.html?a=1&b=2"]
    lastmods = [u.findtext("s:lastmod", namespaces=NS) for u in root.findall("s:url", NS)]
    assert lastmods == ["2026-12-06T08:00:00Z", None]
    with pytest.raises(ValueError, match="at most 50000"):
        sitemap.render_urlset([sitemap.Entry("https://x.vn/")] * (sitemap.MAX_URLS + 1))
    index = ET.fromstring(sitemap.render_index([sitemap.Entry("https://x.vn/s.xml", NOW)]))
    assert index.tag == f"{{{sitemap.SITEMAP_NS}}}sitemapindex"
    assert index.findtext("s:sitemap/s:loc", namespaces=NS) == "https://x.vn/s.xml"
    assert [sitemap.pages(n) for n in (0, 1, 50_000, 50_001, 120_000)] == [1, 1, 1, 2, 3]


def test_robots_txt_names_the_index() -> None:
    text = sitemap.robots_txt("https://x.vn/sitemap.xml", ["/admin"])
    assert text.splitlines() == [
        "User-agent: *",
        "Disallow: /admin",
        "Allow: /",
        "",
        "Sitemap: https://x.vn/sitemap.xml",
    ]
