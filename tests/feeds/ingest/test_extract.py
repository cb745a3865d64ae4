"""Full-text extraction of article pages: main text without related boxes, metadata, failures."""

from __future__ import annotations

import importlib.util
import sys
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml.html import document_fromstring

from feeds.ingest.extract import (
    MAX_PAGE_BYTES,
    ExtractedPage,
    ExtractionFailed,
    ExtractSettings,
    extract_page,
    remove_related_boxes,
    word_count,
)
from feeds.ingest.fetch import FetchLimits
from feeds.ingest.sanitize import sanitize_html
from tests.support.env import FIXTURES, ROOT, fixture_bytes

PAGES = FIXTURES / "pages"
URL = "https://baovidu.vn/thoi-su/ha-noi-mo-them-ba-tuyen-xe-buyt-dien-4741.html?utm_source=rss"
ARTICLE = (PAGES / "bai-viet-xe-buyt-dien.html").read_bytes()
# Words of every related box on the article page; none may reach the text.
BOX_WORDS = (
    # VnExpress's box-tinlienquanv2 inside the body: headlines and their teasers.
    "Tàu điện ngầm Nhổn",
    "Mười đoàn tàu chở khách",
    "Vé tháng xe buýt",
    # "Xem thêm: <a>…</a>" paragraph inside the body.
    "Xem thêm",
    "Xe ôm công nghệ",
    # A "Tin liên quan" heading and its list, no telling class name.
    "Tin liên quan",
    "camera phạt nguội",
    "Cầu Tứ Liên",
    # "Có thể bạn quan tâm" after the article, and the "Đọc nhiều" sidebar.
    "Có thể bạn quan tâm",
    "Giá vàng miếng",
    "Liên hoan phim",
    "Đội tuyển U23",
    "Đọc nhiều",
    "Mưa lớn gây ngập",
)


def extracted(page: bytes | str = ARTICLE, url: str = URL, **options) -> ExtractedPage:
    result = extract_page(page, url, **options)
    assert isinstance(result, ExtractedPage), result
    return result


def failure(page: bytes | str, url: str = URL, **options) -> ExtractionFailed:
    result = extract_page(page, url, **options)
    assert isinstance(result, ExtractionFailed), result
    assert not result.ok and result.reason
    assert "<" not in result.reason
    return result


def test_article_text_has_the_body_and_no_related_box():
    result = extracted()
    assert result.ok
    for words in BOX_WORDS:
        assert words not in result.text, words
    lines = result.text.split("\n")
    assert "Hà Nội mở thêm ba tuyến xe buýt điện nối sân bay Nội Bài" in lines
    assert any(line.startswith("Từ ngày 1/6, ba tuyến xe buýt điện mới") for line in lines)
    assert any(line.startswith("Sở Giao thông Vận tải Hà Nội cho biết") for line in lines)
    assert lines[-1].startswith("Trong năm nay, thành phố dự kiến thay thêm 150 xe buýt")
    # Paragraphs stay paragraphs, one per line, in the page's order.
    assert result.text.index("đánh số 86A") < result.text.index("Giá vé 45.000 đồng được")
    assert result.boxes_removed >= 5
    assert result.words > 250
    assert result.text == unicodedata.normalize("NFC", result.text)
    assert result.seconds > 0


def test_without_pruning_the_in_body_boxes_leak():
    """trafilatura alone keeps the "Xem thêm" line and the "Tin liên quan" heading: the
    pruning is what keeps them out."""
    text = extracted(settings=ExtractSettings(prune_boxes=False)).text
    assert "Xe ôm công nghệ" in text
    assert "Tin liên quan" in text


def test_article_html_is_sanitised_like_feed_content():
    html = extracted().html
    assert html.startswith("<") and "<p" in html
    assert sanitize_html(html) == html
    for unsafe in ("<script", "<style", "dataLayer", "onclick", "<nav"):
        assert unsafe not in html
    for words in BOX_WORDS:
        assert words not in html, words


def test_article_metadata_comes_from_the_page():
    result = extracted()
    assert result.title == "Hà Nội mở thêm ba tuyến xe buýt điện nối sân bay Nội Bài"
    # article:author is a Facebook profile URL: the <meta name=author> name wins.
    assert result.author == "Nguyễn Thu Hà"
    assert result.published == datetime(2024, 5, 21, 1, 15, tzinfo=UTC)
    assert result.updated == datetime(2024, 5, 21, 3, 40, tzinfo=UTC)
    # Relative URLs in the page are made absolute against the page's address.
    assert result.canonical_url == (
        "https://baovidu.vn/thoi-su/ha-noi-mo-them-ba-tuyen-xe-buyt-dien-noi-san-bay-4741.html"
    )
    assert result.image == "https://baovidu.vn/anh/2024/05/21/xe-buyt-dien-noi-bai-1200.jpg"
    assert result.language == "vi"
    assert result.url == URL


def test_json_ld_metadata_and_local_times():
    page = (
        """<!DOCTYPE html><html><head><meta charset="utf-8">
    <base href="https://cdn.baovidu.vn/bai/">
    <script type="application/ld+json">
    {"@context": "https://schema.org", "@graph": [
      {"@type": "WebSite", "name": "Báo Ví Dụ"},
      {"@type": "NewsArticle", "headline": "Giá điện tăng từ tháng sau",
       "datePublished": "2024-05-21T08:15:00", "dateModified": "2024-05-21 09:00:00",
       "author": [{"@type": "Person", "name": "Lê Văn An"}, {"name": "Trần Bình"}],
       "image": {"@type": "ImageObject", "url": "anh/gia-dien.jpg"}}]}
    </script></head><body><article><h1>Giá điện tăng từ tháng sau</h1>
    """
        + "<p>"
        + "Giá bán lẻ điện bình quân tăng thêm bốn phần trăm. " * 12
        + "</p>"
        + ("</article></body></html>")
    )
    result = extracted(page, "https://baovidu.vn/kinh-doanh/gia-dien.html")
    assert result.title == "Giá điện tăng từ tháng sau"
    assert result.author == "Lê Văn An, Trần Bình"
    # No offset: the site's own time (Asia/Ho_Chi_Minh, UTC+7).
    assert result.published == datetime(2024, 5, 21, 1, 15, tzinfo=UTC)
    assert result.updated == datetime(2024, 5, 21, 2, 0, tzinfo=UTC)
    # <base href> is what relative URLs resolve against.
    assert result.image == "https://cdn.baovidu.vn/bai/anh/gia-dien.jpg"
    assert result.canonical_url is None
    assert result.language is None


def test_a_front_page_is_not_an_article():
    result = failure((PAGES / "trang-chuyen-muc.html").read_bytes(), "https://baovidu.vn/thoi-su")
    assert result.code == "no_text"
    assert "list of links" in result.reason


@pytest.mark.parametrize(
    "page",
    [(PAGES / "trang-rong.html").read_bytes(), b"", b"   \n\t ", ""],
    ids=["fixture", "no bytes", "whitespace", "empty str"],
)
def test_an_empty_page_fails_with_a_reason(page):
    result = failure(page)
    assert result.code == "empty" and result.reason == "the page is empty"


def test_a_page_without_visible_text_fails():
    result = failure(b"<html><head><title>x</title><script>var a = 1;</script></head><body> ")
    assert result.code == "empty" and "no visible text" in result.reason


@pytest.mark.parametrize(
    ("page", "content_type", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", None, "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "a PNG image"),
        (b'{"title": "Gi\xc3\xa1 \xc4\x91i\xe1\xbb\x87n"}', None, "JSON"),
        (fixture_bytes("the-thao.rss"), None, "an RSS or Atom feed"),
        ("Chỉ là văn bản thuần, không có thẻ nào.".encode(), None, "plain text"),
        (ARTICLE, "image/jpeg", "Content-Type image/jpeg"),
    ],
    ids=["pdf", "png", "json", "feed", "plain text", "content-type"],
)
def test_what_is_not_html_fails_saying_what_it_is(page, content_type, what):
    result = failure(page, content_type=content_type)
    assert result.code == "not_html"
    assert what in result.reason


def test_pages_over_the_size_cap_are_refused_before_parsing():
    assert FetchLimits().max_bytes == MAX_PAGE_BYTES
    result = failure(ARTICLE, max_bytes=len(ARTICLE) - 1)
    assert result.code == "too_large"
    assert f"{len(ARTICLE):,} bytes" in result.reason
    assert extracted(ARTICLE, max_bytes=len(ARTICLE)).ok


def test_a_teaser_is_too_short():
    page = "<html><body><article><h1>Tin nhanh</h1><p>Chỉ một câu ngắn.</p></article></body></html>"
    result = failure(page)
    assert result.code == "too_short"
    assert "fewer than 30" in result.reason
    assert extracted(page, min_words=3).text.endswith("Chỉ một câu ngắn.")


def test_charset_from_the_header_the_bom_or_the_meta_tag():
    text = extracted().text
    utf16 = ARTICLE.decode("utf-8").replace('charset="utf-8"', "").encode("utf-16")
    assert extracted(utf16, content_type="text/html; charset=utf-16").text == text
    latin = (
        "<html><head><meta charset='windows-1252'></head><body><article><p>"
        + "Le café crème coûte deux euros à Hà Nội? Non, à Paris. " * 8
        + "</p></article></body></html>"
    ).replace("Hà Nội", "Hanoi")
    assert "café crème coûte" in extracted(latin.encode("cp1252")).text


def test_a_decomposed_page_is_composed_and_its_boxes_still_found():
    nfd = unicodedata.normalize("NFD", ARTICLE.decode("utf-8")).encode("utf-8")
    result = extracted(nfd)
    assert result.text == extracted().text
    assert "camera phạt nguội" not in result.text


def test_remove_related_boxes_by_class_type_and_heading():
    tree = document_fromstring(
        """<html><body><div class="detail-content">
        <p>Đoạn mở đầu của bài viết về giao thông.</p>
        <div class="VCSortableInPreviewMode" type="RelatedNewsBox">
          <a href="/a.html">Hộp tin của Tuổi Trẻ</a></div>
        <div class="box-samecat">
          <ul><li><a href="/b.html">Tin cùng mục của Dân trí</a></li></ul></div>
        <p>Xem thêm: <a href="/c.html">Một bài cũ hơn</a></p>
        <h4><span>Tin liên quan</span></h4>
        <ul><li><a href="/d.html">Bài liên quan thứ nhất</a></li></ul>
        <ol><li><a href="/e.html">Bài liên quan thứ hai</a></li></ol>
        <p>Đoạn kết của bài viết vẫn còn nguyên.</p>
        <div class="entry-content-read-more"><p>Phần thân bài có lớp read-more vẫn được giữ,
          vì đây là chữ của bài chứ không phải liên kết.</p></div>
        <div class="related-topics-intro"><p>Một đoạn văn dài không có liên kết nào cả nhưng
          mang tên lớp related, nên không bị cắt bỏ.</p></div>
        </div></body></html>"""
    )
    # Tuổi Trẻ's box, Dân trí's, the "Xem thêm" line, and the heading with its two lists.
    assert remove_related_boxes(tree) == 4
    text = " ".join(tree.text_content().split())
    for gone in ("Hộp tin", "Tin cùng mục", "Xem thêm", "Một bài cũ", "Tin liên quan", "thứ nhất"):
        assert gone not in text, gone
    assert "thứ hai" not in text
    for kept in ("Đoạn mở đầu", "Đoạn kết", "lớp read-more", "mang tên lớp related"):
        assert kept in text, kept


def test_a_heading_that_only_mentions_the_words_is_kept():
    tree = document_fromstring(
        """<html><body><article><h2>Xem thêm về chính sách giá điện mới</h2>
        <p>Nội dung bài không có liên kết nào.</p></article></body></html>"""
    )
    assert remove_related_boxes(tree) == 0


def test_word_count_counts_unspaced_scripts_by_character():
    assert word_count("Hà Nội mở thêm ba tuyến") == 6
    assert word_count("商標法違反の疑い") == 8
    assert word_count("iPhone を販売") == 4


@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
def test_never_raises_on_arbitrary_input(page):
    result = extract_page(page, "https://baovidu.vn/a.html")
    assert result.ok or result.reason


def test_arbitrary_markup_soup_never_raises():
    soup = "".join(
        f"<div class='related-{n}'><{tag}>Tin liên quan<a href='/{n}'>x</a>"
        for n, tag in enumerate(["p", "span", "h3", "li", "td", "b"] * 40)
    )
    result = extract_page(f"<html><body>{soup}</body></html>", "https://baovidu.vn/")
    assert isinstance(result, ExtractedPage | ExtractionFailed)


def _benchmark_module():
    path = ROOT / "benchmarks" / "extract.py"
    spec = importlib.util.spec_from_file_location("benchmark_extract", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_scoring_is_the_shingle_f1_of_the_benchmark():
    bench = _benchmark_module()
    truth = "one two three four five six"
    assert bench.shingle_scores(truth, truth) == (1.0, 0.0, 0.0)
    # 3 true shingles, 1 predicted, none shared.
    assert bench.shingle_scores(truth, "seven eight nine ten") == (0.0, 0.25, 0.75)
    # 3 true shingles, 5 predicted, 3 shared: tp 3, fp 2, fn 0, divided by 5.
    assert bench.shingle_scores(truth, truth + " extra words") == (0.6, 0.4, 0.0)
    scores = bench.aggregate([(1.0, 0.0, 0.0), (0.6, 0.4, 0.0), (0.0, 0.0, 1.0)])
    # Precision over the two pages with a prediction, recall over all three.
    assert scores["precision"] == pytest.approx(0.8)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.8 * (2 / 3) / (0.8 + 2 / 3))
