"""Bulk import of JSON Lines, CSV and sitemap files into a real SQLite file; sitemaps' pages
from a loopback news site."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.ingest.bulk import MAX_ROW_BYTES, BadImport, Importer
from feeds.ingest.fetch import Fetcher, FetchLimits
from feeds.ingest.fulltext import FullTextSettings
from feeds.ingest.pipeline import Ingestor
from store.sqlite import SQLiteStore
from tests.support.feedserver import FeedServer
from tests.support.newssite import BUS, FOOTBALL, GOLD, NewsSite, Page


@pytest.fixture
def ingestor(sqlite_store: SQLiteStore):
    ingestor = Ingestor(
        sqlite_store,
        Fetcher(FetchLimits(allow_private=True, total_timeout=5)),
        fulltext=FullTextSettings(per_poll=0),
    )
    yield ingestor
    ingestor.fetcher.close()


def record(n: int, **changes: object) -> dict[str, object]:
    """A row as the shared data writes them (with its extra fields)."""
    row: dict[str, object] = {
        "id": f"unc-{n}",
        "title": f"Bài viết số {n} về xe buýt điện",
        "text": f"Đoạn một của bài {n}.\nĐoạn hai: xe buýt điện chạy tới sân bay Nội Bài.",
        "category": "thoi-su",
        "url": f"https://dantri.com.vn/thoi-su/bai-{n}.htm",
        "source": "Dân trí",
        "published": "2020-10-01",
    }
    row.update(changes)
    return row


def jsonl(path: Path, rows: list[object], compress: bool = False) -> Path:
    data = "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    ).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_json_lines_in_the_shared_datas_format_with_bad_rows(
    tmp_path: Path, ingestor: Ingestor, compress: bool
) -> None:
    rows: list[object] = [
        record(1),
        "{not json",
        [1, 2, 3],
        record(4, url=None),
        record(5, title="   "),
        record(6, published="hôm qua"),
        record(7, url="ftp://dantri.com.vn/x"),
        record(8, category=None),
        record(9, text=None, content_html="<p>Nội dung <b>HTML</b>.</p><script>x</script>"),
        record(10, category="Kinh doanh", image="https://dantri.com.vn/anh/10.jpg"),
        "",
        record(12, published="2020-10-02T08:30:00+07:00", tags=["giao thông"]),
    ]
    name = "dantri.jsonl.gz" if compress else "dantri.jsonl"
    report = Importer(ingestor).run(jsonl(tmp_path / name, rows, compress), None)
    assert (report.new, report.updated, report.unchanged) == (4, 0, 0)
    reasons = dict(report.problems)
    assert "not a JSON object" in reasons[2] and reasons[3] == "not a JSON object"
    assert reasons[4] == "field 'url' is required and must be a non-empty string"
    assert reasons[5] == "field 'title' is required and must be a non-empty string"
    assert reasons[6] == "field 'published' is not an ISO 8601 date-time: 'hôm qua'"
    assert reasons[7].startswith("field 'url': ")
    assert reasons[8] == "no category: the row names none and --category is not given"
    assert report.skipped == 7 and report.ignored_fields == {"id", "source"}
    store = ingestor.store
    first = store.get_article(store.article_id_at("https://dantri.com.vn/thoi-su/bai-1.htm"))
    assert first.content_html.startswith("<p>Đoạn một của bài 1.</p><p>Đoạn hai")
    assert first.published == datetime(2020, 9, 30, 17, 0, tzinfo=UTC)  # midnight, UTC+7
    assert first.fulltext.status == "full" and first.fulltext.origin == "import"
    html = store.get_article(store.article_id_at("https://dantri.com.vn/thoi-su/bai-9.htm"))
    assert "<script" not in html.content_html and "Nội dung" in html.text
    assert store.get_category("kinh-doanh").name == "Kinh doanh"
    # the same file again: nothing new, nothing changed
    again = Importer(ingestor).run(tmp_path / name, None, restart=True)
    assert (again.new, again.updated, again.unchanged, again.skipped) == (0, 0, 4, 7)


def test_a_category_for_rows_that_name_none(tmp_path: Path, ingestor: Ingestor) -> None:
    path = jsonl(tmp_path / "a.jsonl", [record(1, category=None), record(2)])
    report = Importer(ingestor).run(path, "the-thao")
    assert report.new == 2 and report.skipped == 0
    assert ingestor.store.count_articles("the-thao") == 1
    assert ingestor.store.count_articles("thoi-su") == 1


def test_csv_with_a_header_row_and_bad_rows(tmp_path: Path, ingestor: Ingestor) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["url", "title", "text", "published", "tags", "image"])
    writer.writerow(
        ["https://tin.example.vn/1", "Tin một", "Nội dung một.", "2024-05-01", "a; b", ""]
    )
    writer.writerow(["https://tin.example.vn/2", "Tin hai"])  # too few fields
    writer.writerow(["", "Không có URL", "x", "", "", ""])
    writer.writerow(
        ["https://tin.example.vn/4", "Tin bốn, có dấu phẩy", "Dòng 1\nDòng 2", "", "", ""]
    )
    path = tmp_path / "tin.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")
    report = Importer(ingestor).run(path, "thoi-su")
    assert report.new == 2 and report.skipped == 2
    assert dict(report.problems) == {
        3: "the row has 2 fields, the header 6",
        4: "field 'url' is required and must be a non-empty string",
    }
    store = ingestor.store
    one = store.get_article(store.article_id_at("https://tin.example.vn/1"))
    assert one.tags == ("a", "b") and one.text == "Nội dung một."
    four = store.get_article(store.article_id_at("https://tin.example.vn/4"))
    assert four.title == "Tin bốn, có dấu phẩy" and four.text == "Dòng 1\nDòng 2"
    headless = tmp_path / "x.csv"
    headless.write_text("a,b\n1,2\n")
    with pytest.raises(BadImport, match="needs at least url and title columns"):
        Importer(ingestor).run(headless, "thoi-su")


def sitemap(urls: list[str], news: bool = True) -> bytes:
    entries = []
    for n, url in enumerate(urls):
        tags = ""
        if news:
            tags = (
                "<news:news><news:publication><news:name>Báo Thử Nghiệm</news:name>"
                "<news:language>vi</news:language></news:publication>"
                f"<news:publication_date>2024-05-0{n + 1}T08:00:00+07:00</news:publication_date>"
                f"<news:title>Tin số {n} theo sitemap</news:title>"
                "<news:keywords>giao thông, Hà Nội</news:keywords></news:news>"
            )
        entries.append(f"<url><loc>{url}</loc><lastmod>2024-05-09</lastmod>{tags}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + "".join(entries)
        + "</urlset>"
    ).encode()


def test_a_news_sitemap_s_pages_are_read_and_extracted(
    tmp_path: Path, ingestor: Ingestor, feed_server: FeedServer
) -> None:
    site = NewsSite(feed_server)
    bus = site.page(Page("xe-buyt", "Xe buýt điện", BUS, author="Nguyễn Thu Hà", image="/a.jpg"))
    gold = site.page(Page("gia-vang", "Giá vàng", GOLD))
    hidden = site.page(Page("rieng", "Riêng", FOOTBALL))
    missing = feed_server.url("/khong-co.html")
    site.robots("User-agent: *\nDisallow: /rieng.html\n")
    path = tmp_path / "sitemap-news.xml"
    path.write_bytes(sitemap([bus, gold, hidden, missing, "ftp://x/y"]))
    report = Importer(ingestor).run(path, "thoi-su")
    assert report.new == 2 and report.skipped == 3
    reasons = dict(report.problems)
    assert "robots.txt disallows /rieng.html" in reasons[3]
    assert reasons[4].endswith("the page is not there (404 Not Found) at " + missing)
    assert reasons[5] == "not an http(s) URL: 'ftp://x/y'"
    store = ingestor.store
    article = store.get_article(store.article_id_at(bus))
    assert article.title == "Tin số 0 theo sitemap"  # news:title first
    assert article.published == datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert article.tags == ("giao thông", "Hà Nội") and article.author == "Nguyễn Thu Hà"
    assert article.image.url == site.base + "/a.jpg" and BUS[2] in article.text
    assert article.fulltext.status == "full" and article.fulltext.origin == "page"
    # a plain sitemap: the page's own title and date; stored URLs are not fetched again
    plain = tmp_path / "sitemap.xml"
    other = site.page(Page("khac", "Tin khác", FOOTBALL))
    plain.write_bytes(sitemap([bus, other], news=False))
    again = Importer(ingestor).run(plain, "thoi-su")
    assert (again.new, again.unchanged) == (1, 1)
    assert len(feed_server.requests_to("/xe-buyt.html")) == 1
    assert store.get_article(store.article_id_at(other)).title == "Tin khác"
    index = tmp_path / "index.xml"
    index.write_text(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>https://x/s.xml</loc></sitemap></sitemapindex>"
    )
    with pytest.raises(BadImport, match="sitemap index"):
        Importer(ingestor).run(index, "thoi-su")
    bad = tmp_path / "bad.xml"
    bad.write_text("<html><body>not a sitemap</body></html>")
    with pytest.raises(BadImport, match="not a sitemap: the root element is <html>"):
        Importer(ingestor).run(bad, "thoi-su")


class Stop(Exception):
    pass


def test_an_interrupted_import_goes_on_where_it_stopped(tmp_path: Path, ingestor: Ingestor) -> None:
    path = jsonl(tmp_path / "big.jsonl", [record(n) for n in range(1, 96)])
    importer = Importer(ingestor, batch_rows=20)
    batches = []

    def stop_after_two(position: int) -> None:
        batches.append(position)
        if len(batches) == 2:
            raise Stop

    with pytest.raises(Stop):
        importer.run(path, None, progress=stop_after_two)
    assert ingestor.store.count_articles() == 40
    rest = importer.run(path, None)
    assert rest.resumed_after == 40 and rest.new == 55 and rest.rows == 55
    assert "went on after row 40" in rest.summary()
    assert ingestor.store.count_articles() == 95
    done = importer.run(path, None)
    assert done.rows == 0 and done.resumed_after == 95


def test_memory_stays_bounded_whatever_the_file_size(tmp_path: Path, ingestor: Ingestor) -> None:
    def body(name: str, n: int) -> str:  # distinct: one text under two URLs is one article
        return "\n".join(
            f"{name} {n}, đoạn {i}: " + "xe buýt điện tới sân bay " * 12 for i in range(6)
        )

    def peak(rows: int, name: str) -> int:
        path = jsonl(
            tmp_path / name,
            [record(n, text=body(name, n), url=f"https://t.vn/{name}/{n}") for n in range(rows)],
        )
        tracemalloc.start()
        try:
            report = Importer(ingestor, batch_rows=25).run(path, None)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert report.new == rows

    small, large = peak(100, "small.jsonl"), peak(400, "large.jsonl")
    assert large < 1.5 * small, (small, large)


def test_a_line_longer_than_the_limit_is_a_bad_row_not_read_whole(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    path = tmp_path / "long.jsonl"
    with path.open("wb") as f:
        f.write(json.dumps(record(1)).encode() + b"\n")
        f.write(b'{"title": "' + b"a" * (MAX_ROW_BYTES + 10) + b'"}\n')
        f.write(json.dumps(record(3)).encode() + b"\n")
    report = Importer(ingestor).run(path, None)
    assert report.new == 2 and dict(report.problems) == {
        2: f"the line is longer than {MAX_ROW_BYTES:,} bytes"
    }
