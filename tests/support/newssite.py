"""A small Vietnamese news site on a real loopback HTTP server: article pages written for the
tests (head metadata, a body, a related-links box inside it), a summary-only RSS feed that links
them, and a robots.txt. Pages are built here from plain text, nothing from ../shared."""

from __future__ import annotations

import email.utils
import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from tests.support.feedserver import FeedServer, Reply

HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Page:
    slug: str
    title: str
    paragraphs: list[str]
    summary: str = ""
    image: str | None = None
    author: str | None = None
    published: datetime | None = None
    # a path on the site, or an absolute URL
    canonical: str | None = None
    related: list[tuple[str, str]] = field(default_factory=list)


def render(page: Page, base: str) -> bytes:
    head = [
        '<meta charset="utf-8">',
        f"<title>{html.escape(page.title)} - Báo Thử Nghiệm</title>",
        f'<meta property="og:title" content="{html.escape(page.title)}">',
        '<meta property="og:type" content="article">',
    ]
    if page.image:
        head.append(f'<meta property="og:image" content="{html.escape(page.image)}">')
    if page.author:
        head.append(f'<meta name="author" content="{html.escape(page.author)}">')
    if page.published:
        stamp = page.published.isoformat()
        head.append(f'<meta property="article:published_time" content="{stamp}">')
    if page.canonical:
        head.append(f'<link rel="canonical" href="{html.escape(page.canonical)}">')
    body = [f'<h1 class="title-detail">{html.escape(page.title)}</h1>']
    if page.summary:
        body.append(f'<p class="description">{html.escape(page.summary)}</p>')
    for i, text in enumerate(page.paragraphs):
        body.append(f'<p class="Normal">{html.escape(text)}</p>')
        if i == 1 and page.related:
            items = "".join(
                f'<li><a href="{base}/{slug}.html">{html.escape(title)}</a></li>'
                for slug, title in page.related
            )
            body.append(f'<div class="box-news"><h3>Tin liên quan</h3><ul>{items}</ul></div>')
    nav = "".join(
        f'<li><a href="{base}/{s}">{n}</a></li>'
        for s, n in (("thoi-su", "Thời sự"), ("the-thao", "Thể thao"), ("kinh-doanh", "Kinh doanh"))
    )
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n'
        + "\n".join(head)
        + f"\n</head>\n<body>\n<header><nav><ul>{nav}</ul></nav></header>\n"
        + '<main><article class="fck_detail">\n'
        + "\n".join(body)
        + "\n</article></main>\n<footer><p>Báo Thử Nghiệm, giấy phép số 123/GP.</p></footer>\n"
        + "</body>\n</html>\n"
    ).encode()


class NewsSite:
    """Pages, a feed and robots.txt served by one FeedServer."""

    def __init__(self, server: FeedServer):
        self.server = server
        self.base = server.url("").rstrip("/")
        self.pages: dict[str, Page] = {}

    def page(self, page: Page) -> str:
        self.pages[page.slug] = page
        return self.server.route(
            f"/{page.slug}.html", Reply(body=render(page, self.base), content_type=HTML_TYPE)
        )

    def url(self, slug: str) -> str:
        return f"{self.base}/{slug}.html"

    def robots(self, text: str) -> str:
        return self.server.route(
            "/robots.txt", Reply(body=text.encode(), content_type="text/plain; charset=utf-8")
        )

    def feed(self, path: str, links: list[str], dated: bool = True, hub: str | None = None) -> str:
        """A summary-only RSS feed of these page URLs (title and one-sentence lead each)."""
        self_url = self.server.url(path)
        self.server.route(path, Reply(body=self.feed_bytes(links, dated, hub, self_url)))
        return self_url

    def feed_bytes(
        self, links: list[str], dated: bool = True, hub: str | None = None, self_url: str = ""
    ) -> bytes:
        atom = "http://www.w3.org/2005/Atom"
        ET.register_namespace("atom", atom)
        root = ET.Element("rss", version="2.0")
        channel = ET.SubElement(root, "channel")
        ET.SubElement(channel, "title").text = "Báo Thử Nghiệm"
        ET.SubElement(channel, "link").text = self.base + "/"
        ET.SubElement(channel, "description").text = "Tin mới"
        if hub:
            ET.SubElement(channel, f"{{{atom}}}link", rel="hub", href=hub)
        if self_url:
            ET.SubElement(channel, f"{{{atom}}}link", rel="self", href=self_url)
        for link in links:
            slug = link.rsplit("/", 1)[-1].removesuffix(".html")
            page = self.pages.get(slug)
            item = ET.SubElement(channel, "item")
            ET.SubElement(item, "title").text = page.title if page else slug
            ET.SubElement(item, "link").text = link
            ET.SubElement(item, "guid", isPermaLink="false").text = slug
            lead = page.summary if page and page.summary else f"Tin {slug}."
            ET.SubElement(item, "description").text = lead
            if dated and page and page.published:
                ET.SubElement(item, "pubDate").text = email.utils.format_datetime(page.published)
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


# Bodies long enough to be articles (well over 150 words each), on distinct topics.
BUS = [
    "Sở Giao thông Vận tải Hà Nội cho biết ba tuyến xe buýt điện mới được đánh số 86A, 86B và "
    "86C, mỗi tuyến có 20 xe chạy bằng pin, giãn cách 15 phút một chuyến vào giờ cao điểm.",
    "Theo đại diện sở, lộ trình được thiết kế để hành khách ở phía tây và phía đông thành phố "
    "không phải vào trung tâm đổi xe buýt. Tuyến 86B đi qua Kim Mã, Đào Tấn rồi lên cầu Nhật Tân.",
    "Giá vé xe buýt điện 45.000 đồng được áp dụng cho toàn tuyến; người cao tuổi, người khuyết "
    "tật và trẻ em dưới sáu tuổi được miễn phí. Hành khách có thể trả bằng thẻ ngân hàng.",
    "Mỗi xe buýt điện có 32 ghế ngồi, chỗ để hành lý rộng và cổng sạc điện thoại. Xe chạy một "
    "lần sạc được khoảng 250 km, đủ cho một ngày hoạt động; trạm sạc đặt gần cầu Thăng Long.",
    "Năm ngoái, sân bay Nội Bài đón hơn 29 triệu lượt khách, trong đó khoảng một phần ba đi "
    "bằng taxi hoặc xe cá nhân. Sở kỳ vọng các tuyến xe buýt điện sẽ giảm ùn tắc giờ cao điểm.",
]
GOLD = [
    "Giá vàng miếng SJC sáng nay tăng thêm một triệu đồng, vượt mốc 90 triệu đồng mỗi lượng, "
    "trong khi giá vàng thế giới đi lên sau khi đồng USD suy yếu trên thị trường quốc tế.",
    "Ngân hàng Nhà nước tiếp tục bán vàng miếng bình ổn thị trường qua bốn ngân hàng thương mại "
    "nhà nước, mỗi khách hàng được mua tối đa một lượng vàng miếng SJC mỗi lần.",
    "Chênh lệch giữa giá vàng trong nước và thế giới hiện khoảng 12 triệu đồng mỗi lượng, các "
    "chuyên gia khuyến cáo người dân cân nhắc khi mua vàng miếng lúc giá biến động mạnh.",
    "Giá vàng nhẫn trơn cũng tăng theo, các doanh nghiệp kinh doanh vàng bạc đá quý niêm yết "
    "giá mua vào và bán ra cao hơn hôm qua khoảng 800.000 đồng mỗi lượng vàng nhẫn.",
    "Theo Hội đồng Vàng Thế giới, nhu cầu mua vàng của các ngân hàng trung ương tiếp tục ở mức "
    "cao trong quý, góp phần đẩy giá vàng lên đỉnh mới trên thị trường quốc tế.",
]
FOOTBALL = [
    "Đội tuyển Việt Nam đánh bại Thái Lan với tỷ số 2-1 trong trận chung kết lượt đi AFF Cup "
    "trên sân Việt Trì, trước sự cổ vũ của hơn 20.000 khán giả có mặt trên khán đài.",
    "Tiền đạo Xuân Son ghi hai bàn thắng cho tuyển Việt Nam, huấn luyện viên Kim Sang-sik khen "
    "các cầu thủ thi đấu kỷ luật và tận dụng tốt các cơ hội ghi bàn trong hiệp hai.",
    "Thái Lan có bàn rút ngắn tỷ số ở phút 80 sau một tình huống phạt góc, nhưng hàng thủ tuyển "
    "Việt Nam đã chơi chắc chắn trong những phút cuối để giữ chiến thắng quý giá.",
    "Trận chung kết lượt về AFF Cup diễn ra tại Bangkok vào cuối tuần này; tuyển Việt Nam chỉ "
    "cần một trận hòa để lần thứ ba vô địch giải bóng đá Đông Nam Á.",
    "Liên đoàn Bóng đá Việt Nam thưởng nóng ba tỷ đồng cho đội tuyển sau chiến thắng, đồng thời "
    "kêu gọi người hâm mộ cổ vũ văn minh khi sang Thái Lan theo dõi trận lượt về.",
]
