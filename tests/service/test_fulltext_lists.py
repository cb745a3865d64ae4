"""When an article's full text arrives, its related list and its place in others' change: the
whole service (Quantam) on a real SQLite file, polling a loopback news site."""

from __future__ import annotations

from pathlib import Path

from service.config import load_settings
from service.core import Quantam
from tests.support.feedserver import FeedServer
from tests.support.newssite import BUS, FOOTBALL, GOLD, NewsSite, Page

# Two other stories on the electric buses (their own words: not copies of the page's story).
BUS_STORIES = [
    [
        "Hành khách đi xe buýt điện tuyến 86 tới sân bay Nội Bài phản ánh xe sạch, chạy êm và "
        "đúng giờ; nhiều người chuyển từ taxi sang xe buýt điện vì giá vé rẻ hơn nhiều lần.",
        "Doanh nghiệp vận hành cho biết mỗi ngày các tuyến xe buýt điện ra sân bay chở khoảng "
        "năm nghìn lượt khách, tăng gấp đôi so với tháng đầu tiên đưa vào khai thác.",
    ],
    [
        "Hà Nội dự kiến thay toàn bộ xe buýt chạy dầu bằng xe buýt điện trước năm 2030, bắt "
        "đầu từ các tuyến nối trung tâm với sân bay Nội Bài và các bến xe liên tỉnh.",
        "Sở Giao thông Vận tải đề xuất xây thêm trạm sạc cho xe buýt điện tại các điểm đầu "
        "cuối, đồng thời giữ giá vé ổn định để khuyến khích người dân đi xe công cộng.",
    ],
]
# Bodies of the stories the CMS pushed before: two on the electric buses, the others elsewhere.
PUSHED = [
    ("xe-buyt-1", "thoi-su", "Khách đi xe buýt điện ra sân bay tăng gấp đôi", BUS_STORIES[0]),
    ("xe-buyt-2", "thoi-su", "Hà Nội sẽ thay toàn bộ xe buýt chạy dầu", BUS_STORIES[1]),
    ("vang-1", "kinh-doanh", "Giá vàng miếng SJC vượt 90 triệu đồng", GOLD[:3]),
    ("vang-2", "kinh-doanh", "Ngân hàng Nhà nước bán vàng bình ổn", GOLD[1:4]),
    ("bong-da-1", "the-thao", "Tuyển Việt Nam thắng Thái Lan 2-1", FOOTBALL[:3]),
    ("bong-da-2", "the-thao", "Xuân Son lập cú đúp ở chung kết AFF Cup", FOOTBALL[1:4]),
    ("bong-da-3", "the-thao", "Thưởng nóng ba tỷ đồng cho tuyển Việt Nam", FOOTBALL[2:5]),
    ("vang-3", "kinh-doanh", "Giá vàng nhẫn tăng theo vàng miếng", GOLD[2:5]),
]


def test_the_lists_change_when_the_full_text_arrives(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    site = NewsSite(feed_server)
    settings = load_settings(
        environ={},
        store=f"sqlite:///{tmp_path / 'q.db'}",
        allow_private_fetch=True,
        poll_host_delay=0,
        full_text_per_poll=0,  # the poll stores the summary only; the pages are read below
    )
    with Quantam(settings) as quantam:
        for slug, category, title, paragraphs in PUSHED:
            quantam.push_article(
                {
                    "url": f"https://tin.example.vn/{slug}.html",
                    "title": title,
                    "category": category,
                    "content_html": "".join(f"<p>{p}</p>" for p in paragraphs),
                }
            )
        # A story whose feed says nothing of what it is about: a vague headline and lead.
        url = site.page(
            Page(
                "cap-nhat",
                "Cập nhật chiều thứ ba",
                BUS,
                summary="Nhiều thông tin đáng chú ý trong ngày.",
            )
        )
        source = quantam.ingestor.add_source(site.feed("/rss", [url]), "thoi-su")
        report = quantam.ingestor.poll_source(source)
        (article_id,) = report.new
        store = quantam.store
        assert store.get_article(article_id).fulltext.status == "pending"
        bus_ids = {store.article_id_at(f"https://tin.example.vn/xe-buyt-{n}.html") for n in (1, 2)}

        def real_items(owner: str) -> list[str]:
            return [i.article_id for i in store.get_related(owner) or [] if not i.fill]

        before = real_items(article_id)
        assert not bus_ids & set(before)
        assert all(article_id not in real_items(b) for b in bus_ids)

        pages = quantam.ingestor.extract_pending(source.id)
        assert pages.extracted == [article_id]
        after = real_items(article_id)
        # its own list now leads with the stories on the same buses...
        assert set(after[:2]) == bus_ids, after
        # ...and it has its place in theirs
        assert all(article_id in real_items(b) for b in bus_ids)
        assert quantam.related.sync() == 0  # the change log was applied, nothing left
