"""Full text after a poll: a loopback news site serving real pages, a real SQLite file, quantam's
own fetcher (its address guard on, off, or allowing only the site), robots.txt, statuses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from feeds.ingest.fetch import Fetcher, FetchLimits
from feeds.ingest.fulltext import FullTextSettings
from feeds.ingest.pipeline import Ingestor
from feeds.ingest.poll import Poller
from feeds.ingest.schedule import ScheduleSettings
from store.models import FullText, Image
from store.sqlite import SQLiteStore
from tests.support.feedserver import FeedServer, Reply
from tests.support.newssite import BUS, FOOTBALL, GOLD, NewsSite, Page, render

NOW = datetime(2024, 5, 22, 10, 0, tzinfo=UTC)
PUBLISHED = datetime(2024, 5, 21, 1, 15, tzinfo=UTC)
SCHEDULE = ScheduleSettings(jitter=0.0)


def make_ingestor(store: SQLiteStore, limits: FetchLimits, **settings) -> Ingestor:
    return Ingestor(
        store,
        Fetcher(limits),
        SCHEDULE,
        clock=lambda: NOW,
        rng=random.Random(1),
        fulltext=FullTextSettings(**{"per_poll": 10, **settings}),
    )


@pytest.fixture
def site(feed_server: FeedServer) -> NewsSite:
    return NewsSite(feed_server)


@pytest.fixture
def ingestor(sqlite_store: SQLiteStore):
    ingestor = make_ingestor(
        sqlite_store, FetchLimits(allow_private=True, total_timeout=5, max_bytes=64 * 1024)
    )
    yield ingestor
    ingestor.fetcher.close()


def poll(ingestor: Ingestor, url: str, category: str = "thoi-su", **source_fields):
    source = ingestor.add_source(url, category)
    if source_fields:
        source = source.replace(**source_fields)
        ingestor.store.update_source(source)
    return source, ingestor.poll_source(source)


def test_a_summary_only_feed_gets_full_text_after_poll(
    site: NewsSite, ingestor: Ingestor, feed_server: FeedServer
) -> None:
    bus = site.page(
        Page(
            "xe-buyt-dien",
            "Hà Nội mở thêm ba tuyến xe buýt điện nối sân bay",
            BUS,
            summary="Ba tuyến xe buýt điện mới sẽ chạy tới sân bay Nội Bài từ ngày 1/6.",
            image="/anh/xe-buyt.jpg",
            author="Nguyễn Thu Hà",
            published=PUBLISHED,
            canonical="/thoi-su/xe-buyt-dien-4741.html",
            related=[("gia-vang", "Giá vàng tăng mạnh")],
        )
    )
    gold = site.page(
        Page("gia-vang", "Giá vàng miếng vượt 90 triệu", GOLD, summary="Giá vàng tăng mạnh.")
    )
    site.robots("User-agent: *\nDisallow: /admin/\n")
    source, report = poll(ingestor, site.feed("/rss", [bus, gold], dated=False))
    assert report.ok and len(report.new) == 2
    assert report.fulltext is not None and sorted(report.fulltext.extracted) == sorted(report.new)
    assert "pages: 2 full text, 0 failed" in report.summary()
    store = ingestor.store
    article = store.get_article(store.article_id_at(bus))
    assert article.summary == "Ba tuyến xe buýt điện mới sẽ chạy tới sân bay Nội Bài từ ngày 1/6."
    for paragraph in BUS:
        assert paragraph in article.text
    assert article.index_text == article.text
    assert "Tin liên quan" not in article.text and "Giá vàng tăng mạnh" not in article.text
    ft = article.fulltext
    assert ft.status == "full" and ft.origin == "page" and ft.page_url == bus and ft.at == NOW
    assert ft.html.startswith('<p class="description">Ba tuyến xe buýt điện mới')
    assert "<h1>" not in ft.html and "<script" not in ft.html and "<p>" not in ft.html
    assert not article.text.startswith(article.title)
    # what the feed lacked, from the page
    assert article.image == Image(url=site.base + "/anh/xe-buyt.jpg", type="image/jpeg")
    assert article.author == "Nguyễn Thu Hà" and article.published == PUBLISHED
    assert set(ft.filled) == {"image", "author", "published"}
    # the canonical URL finds the article too
    assert store.article_id_at(site.base + "/thoi-su/xe-buyt-dien-4741.html") == article.id
    assert store.count_fulltext_by_source() == {source.id: {"full": 2}}
    # robots.txt was read once for the site; each page once; the feed's UA on all
    assert len(feed_server.requests_to("/robots.txt")) == 1
    page_request = feed_server.requests_to("/xe-buyt-dien.html")[0].headers
    assert page_request["user-agent"].startswith("quantam/")
    assert page_request["accept"].startswith("text/html")

    # polling the unchanged feed again keeps all of it, and fetches no page again
    again = ingestor.poll_source(store.get_source(source.id))
    assert again.ok and again.unchanged == 2 and again.updated == []
    assert store.get_article(article.id) == article
    assert len(feed_server.requests_to("/xe-buyt-dien.html")) == 1


def test_an_edited_entry_keeps_what_its_page_gave(site: NewsSite, ingestor: Ingestor) -> None:
    bus = site.page(
        Page("xe-buyt", "Xe buýt điện", BUS, summary="Xe buýt điện mới.", image="/a.jpg")
    )
    source, _ = poll(ingestor, site.feed("/rss", [bus]))
    site.pages["xe-buyt"].summary = "Xe buýt điện mới, giá vé 45.000 đồng."
    site.feed("/rss", [bus])
    report = ingestor.poll_source(ingestor.store.get_source(source.id))
    assert len(report.updated) == 1
    article = ingestor.store.get_article(report.updated[0])
    assert article.summary == "Xe buýt điện mới, giá vé 45.000 đồng."
    assert article.fulltext.status == "full" and BUS[0] in article.text
    assert article.image.url.endswith("/a.jpg")


def test_robots_txt_disallow_is_obeyed(
    site: NewsSite, ingestor: Ingestor, feed_server: FeedServer
) -> None:
    private = site.page(Page("rieng-tu", "Tin riêng", BUS, summary="Một tin riêng."))
    open_ = site.page(Page("cong-khai", "Tin công khai", GOLD, summary="Một tin công khai."))
    site.robots(
        "User-agent: *\nDisallow: /admin/\n\nUser-agent: quantam\nDisallow: /rieng-tu.html\n"
    )
    source, report = poll(ingestor, site.feed("/rss", [private, open_]))
    store = ingestor.store
    refused = store.get_article(store.article_id_at(private))
    assert refused.fulltext.status == "failed"
    assert "robots.txt disallows /rieng-tu.html" in refused.fulltext.reason
    assert refused.text == "Một tin riêng."  # the summary kept
    assert feed_server.requests_to("/rieng-tu.html") == []
    assert store.get_article(store.article_id_at(open_)).fulltext.status == "full"
    assert "robots.txt disallows" in store.get_source(source.id).fulltext_error
    assert report.fulltext.failed == {refused.id: refused.fulltext.reason}


def test_a_link_to_a_private_address_is_refused_and_the_summary_kept(
    site: NewsSite, sqlite_store: SQLiteStore, feed_server: FeedServer
) -> None:
    # The guard on: only the site's own loopback address is allowed (as an operator allows an
    # intranet CMS), so the feed is read but a link into another private network is not.
    ingestor = make_ingestor(
        sqlite_store, FetchLimits(allowed_networks=("127.0.0.1/32",), total_timeout=5)
    )
    inside = "http://10.1.2.3/noi-bo/bao-cao.html"
    site.pages["bao-cao"] = Page("bao-cao", "Báo cáo nội bộ", [], summary="Tóm tắt báo cáo.")
    try:
        source, report = poll(ingestor, site.feed("/rss", [inside]))
    finally:
        ingestor.fetcher.close()
    assert report.ok and len(report.new) == 1
    article = sqlite_store.get_article(report.new[0])
    assert article.fulltext.status == "failed"
    assert "refused to fetch 10.1.2.3" in article.fulltext.reason
    assert "non-public address" in article.fulltext.reason
    assert article.text == "Tóm tắt báo cáo."
    assert "non-public address" in sqlite_store.get_source(source.id).fulltext_error


def test_404_non_html_and_oversized_pages_keep_the_summary(
    site: NewsSite, ingestor: Ingestor, feed_server: FeedServer
) -> None:
    site.robots("User-agent: *\nAllow: /\n")
    missing = feed_server.url("/mat-tich.html")
    image = feed_server.route(
        "/anh.html", Reply(body=b"\xff\xd8\xff\xe0" + b"0" * 400, content_type="image/jpeg")
    )
    pdf = feed_server.route(
        "/bao-cao.html", Reply(body=b"%PDF-1.7\n" + b"x" * 500, content_type="text/html")
    )
    huge = feed_server.route(
        "/dai.html", Reply(body=b"<html><body>" + b"<p>chu</p>" * 10_000, content_type="text/html")
    )
    source, _report = poll(ingestor, site.feed("/rss", [missing, image, pdf, huge]))
    store = ingestor.store
    reasons = {}
    for url in (missing, image, pdf, huge):
        article = store.get_article(store.article_id_at(url))
        assert article.fulltext.status == "failed" and article.fulltext.origin == "page"
        assert article.text == f"Tin {url.rsplit('/', 1)[1].removesuffix('.html')}."
        reasons[url] = article.fulltext.reason
    assert reasons[missing] == f"the page is not there (404 Not Found) at {missing}"
    assert reasons[image] == "the page is not HTML (Content-Type image/jpeg)"
    assert reasons[pdf] == "the page is not HTML: it looks like a PDF document"
    assert reasons[huge] == "the page is larger than the 65,536-byte limit"
    assert store.count_fulltext_by_source() == {source.id: {"failed": 4}}
    assert store.get_source(source.id).fulltext_error in reasons.values()
    # a failure is not tried again by the next poll, only by `quantam fulltext --retry-failed`
    ingestor.poll_source(store.get_source(source.id))
    assert len(feed_server.requests_to("/mat-tich.html")) == 1
    feed_server.route("/mat-tich.html", Reply(body=site_page_bytes(site), content_type="text/html"))
    retried = ingestor.extract_pending(source.id, retry_failed=True)
    assert retried.extracted == [store.article_id_at(missing)]
    assert store.count_fulltext_by_source() == {source.id: {"failed": 3, "full": 1}}


def site_page_bytes(site: NewsSite) -> bytes:
    return render(Page("x", "Bóng đá", FOOTBALL), site.base)


@pytest.mark.parametrize(
    ("policy", "feed_words", "fetched", "status"),
    [
        ("auto", 20, True, "full"),
        ("auto", 200, False, "full"),
        ("always", 200, True, "full"),
        ("never", 20, False, "summary"),
        ("never", 200, False, "full"),
    ],
)
def test_each_policy_fetches_what_it_says(
    site: NewsSite,
    ingestor: Ingestor,
    feed_server: FeedServer,
    policy: str,
    feed_words: int,
    fetched: bool,
    status: str,
) -> None:
    lead = " ".join(["tin"] * (feed_words - 1)) + " mới."
    url = site.page(Page("bai", "Bài viết", BUS + GOLD + FOOTBALL, summary=lead))
    _source, report = poll(ingestor, site.feed("/rss", [url]), full_text=policy)
    article = ingestor.store.get_article(report.new[0])
    assert bool(feed_server.requests_to("/bai.html")) is fetched
    assert article.fulltext.status == status
    assert article.fulltext.origin == ("page" if fetched else "feed")
    if policy == "never" and status == "summary":
        assert article.fulltext.reason == "full text is off for this source"


def test_a_long_crawl_delay_leaves_pages_for_the_next_poll(
    site: NewsSite, sqlite_store: SQLiteStore, feed_server: FeedServer
) -> None:
    ingestor = make_ingestor(
        sqlite_store, FetchLimits(allow_private=True, total_timeout=5), max_wait=5.0
    )
    urls = [site.page(Page(f"bai-{n}", f"Bài {n}", BUS, summary=f"Tin {n}.")) for n in range(3)]
    site.robots("User-agent: *\nCrawl-delay: 60\n")
    try:
        source, report = poll(ingestor, site.feed("/rss", urls))
    finally:
        ingestor.fetcher.close()
    assert len(report.fulltext.extracted) == 1 and report.fulltext.deferred == 2
    assert "1 full text, 0 failed, 2 left for later" in report.summary()
    assert sqlite_store.count_fulltext_by_source() == {source.id: {"full": 1, "pending": 2}}


def test_pushes_with_a_body_are_never_fetched(site: NewsSite, ingestor: Ingestor) -> None:
    url = site.page(Page("day", "Bài đẩy", BUS, summary="Tóm tắt."))
    other = site.page(Page("khac", "Bài khác", GOLD, summary="Tóm tắt."))
    with_body = ingestor.ingest_article(
        {"url": url, "title": "Bài đẩy", "category": "thoi-su", "content_html": "<p>Ngắn.</p>"}
    )
    assert with_body.fulltext == FullText("full", origin="push")
    bare = ingestor.ingest_article(
        {"url": other, "title": "Bài khác", "category": "thoi-su", "summary": "Ngắn."}
    )
    assert bare.fulltext == FullText("pending", origin="push")
    assert ingestor.extract_pending(limit=5).extracted == [bare.id]
    assert ingestor.store.get_article(with_body.id).fulltext.origin == "push"


def test_the_page_date_is_taken_only_when_the_feed_has_none(
    site: NewsSite, ingestor: Ingestor
) -> None:
    url = site.page(Page("co-ngay", "Bài có ngày", BUS, published=PUBLISHED + timedelta(days=1)))
    site.pages["co-ngay"].published = PUBLISHED
    _source, report = poll(ingestor, site.feed("/rss", [url], dated=True))
    article = ingestor.store.get_article(report.new[0])
    assert article.published == PUBLISHED and "published" not in article.fulltext.filled


def test_a_poll_round_reads_pages_left_waiting(
    site: NewsSite, ingestor: Ingestor, feed_server: FeedServer
) -> None:
    """Pages a source's own turn left (pushes without a body, a bound reached) are read at
    the end of a poll round."""
    pushed = site.page(Page("day", "Bài đẩy", BUS, summary="Tóm tắt."))
    article = ingestor.ingest_article({"url": pushed, "title": "Bài đẩy", "category": "thoi-su"})
    assert article.fulltext.status == "pending"
    other = site.page(Page("tin", "Tin", GOLD, summary="Tin."))
    ingestor.add_source(site.feed("/rss", [other]), "thoi-su")
    reports = Poller(ingestor, workers=1).poll_once()
    assert len(reports) == 1 and reports[0].fulltext.extracted
    assert ingestor.store.get_article(article.id).fulltext.status == "full"
