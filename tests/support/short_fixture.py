"""Headlines and one-sentence leads, as most Vietnamese feeds carry them, written for the tests.

Each story has an obvious partner (the same event, or the same kind of news), and three traps
repeat what misled the lists on real feeds: a word shared by accident ("tạ", dumbbell, is also
a surname), casualty words shared by a war and an earthquake ("thiệt mạng", "bị thương"), and a
province shared by a crime story and the lottery results ("Cà Mau").
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from store.models import Article

BASE = datetime(2024, 11, 21, 6, 0, tzinfo=UTC)

# (id, category, headline, lead)
SHORT = [
    # workout, with its partner and the surname trap
    (
        "tap-1",
        "suc-khoe",
        "Bài tập 30 phút với tạ đơn giúp giảm mỡ bụng",
        "Huấn luyện viên gợi ý bài tập 30 phút với tạ đơn mỗi ngày để đốt mỡ bụng và tăng cơ.",
    ),
    (
        "tap-2",
        "suc-khoe",
        "5 bài tập với tạ đơn cho người mới tập gym",
        "Người mới tập gym nên bắt đầu bằng tạ đơn nhẹ, tập chậm để tăng cơ và giảm mỡ an toàn.",
    ),
    (
        "sao-1",
        "giai-tri",
        "Ca sĩ Tạ Quang Thắng bất ngờ tổ chức đám cưới",
        "Nam ca sĩ Tạ Quang Thắng tổ chức đám cưới ấm cúng tại quê nhà, nhiều đồng nghiệp tới dự.",
    ),
    (
        "sao-2",
        "giai-tri",
        "Hoa hậu Thùy Tiên đăng quang và tổ chức đêm nhạc",
        "Hoa hậu Thùy Tiên góp mặt trong đêm nhạc cùng nhiều ca sĩ nổi tiếng tại TP HCM.",
    ),
    # the war, with its partner and the earthquake trap
    (
        "chien-1",
        "the-gioi",
        "Ukraine nói hơn 8.300 dân thường thiệt mạng vì chiến sự",
        "Tổng công tố viên Ukraine cho biết hơn 8.300 dân thường thiệt mạng và 11.000 người bị "
        "thương sau gần 9 tháng xung đột với Nga.",
    ),
    (
        "chien-2",
        "the-gioi",
        "Nga và Ukraine trao đổi tù binh lần thứ ba",
        "Nga và Ukraine trao đổi hơn 100 tù binh, cuộc trao đổi lớn nhất kể từ khi xung đột bắt "
        "đầu.",
    ),
    (
        "chien-3",
        "the-gioi",
        "Nga cảnh báo sự cố hạt nhân tại nhà máy Zaporizhzhia",
        "Nga cáo buộc Ukraine pháo kích nhà máy điện hạt nhân Zaporizhzhia, nguy cơ sự cố tăng.",
    ),
    (
        "dong-dat-1",
        "the-gioi",
        "Động đất rung chuyển Indonesia, hàng chục người thiệt mạng",
        "Ít nhất 20 người thiệt mạng và 300 người bị thương trong trận động đất tại tỉnh Tây Java.",
    ),
    (
        "dong-dat-2",
        "the-gioi",
        "Người dân Tây Java tháo chạy trong động đất",
        "Trận động đất mạnh 5,6 độ khiến người dân Tây Java, Indonesia tháo chạy khỏi nhà.",
    ),
    # the crime story, with its partner and the lottery trap
    (
        "ngu-dan-1",
        "phap-luat",
        "Vụ hành hạ ngư dân bằng kìm ở Cà Mau: 3 nghi can bị bắt",
        "Công an Cà Mau bắt khẩn cấp 3 nghi can dùng kìm hành hạ ngư dân trên tàu cá.",
    ),
    (
        "ngu-dan-2",
        "phap-luat",
        "Khởi tố vụ dùng kìm hành hạ ngư dân trên tàu cá",
        "Cơ quan điều tra khởi tố vụ án hành hạ ngư dân, chủ tàu cá và 2 thuyền viên bị tạm giam.",
    ),
    (
        "xo-so-1",
        "xo-so",
        "Kết quả xổ số Cà Mau hôm nay thứ Hai",
        "Kết quả xổ số kiến thiết Cà Mau mở thưởng chiều thứ Hai, giải đặc biệt 2 tỷ đồng.",
    ),
    (
        "xo-so-2",
        "xo-so",
        "Kết quả xổ số Đồng Tháp, Cà Mau, TP HCM ngày 21/11",
        "Xổ số kiến thiết miền Nam mở thưởng ngày 21/11 tại Đồng Tháp, Cà Mau và TP HCM.",
    ),
    # background: football, economy, weather, schools
    (
        "bong-da-1",
        "the-thao",
        "Anh thắng Iran 6-2 ở trận mở màn World Cup",
        "Đội tuyển Anh đánh bại Iran 6-2, Bellingham và Saka tỏa sáng ở trận ra quân World Cup.",
    ),
    (
        "bong-da-2",
        "the-thao",
        "Saka lập cú đúp giúp tuyển Anh thắng đậm Iran",
        "Tiền vệ Saka ghi hai bàn, tuyển Anh khởi đầu World Cup bằng chiến thắng đậm trước Iran.",
    ),
    (
        "bong-da-3",
        "the-thao",
        "Hà Lan thắng Senegal nhờ hai bàn cuối trận",
        "Gakpo và Klaassen ghi bàn trong những phút cuối, Hà Lan thắng Senegal 2-0 ở World Cup.",
    ),
    (
        "xang-1",
        "kinh-doanh",
        "Giá xăng giảm lần thứ ba liên tiếp",
        "Liên bộ Công Thương - Tài chính giảm giá xăng RON95 thêm 500 đồng mỗi lít từ chiều nay.",
    ),
    (
        "xang-2",
        "kinh-doanh",
        "Doanh nghiệp kiến nghị rút ngắn kỳ điều chỉnh giá xăng",
        "Các doanh nghiệp đầu mối kiến nghị rút kỳ điều chỉnh giá xăng dầu xuống còn 5 ngày.",
    ),
    (
        "vang-1",
        "kinh-doanh",
        "Giá vàng miếng SJC tăng mạnh phiên sáng",
        "Giá vàng miếng SJC tăng 300.000 đồng mỗi lượng trong phiên sáng nay.",
    ),
    (
        "bao-1",
        "thoi-su",
        "Bão số 9 đổ bộ vào Khánh Hòa, gió giật cấp 12",
        "Bão số 9 đổ bộ vào Khánh Hòa và Ninh Thuận, gió giật cấp 12, nhiều cây xanh bị quật đổ.",
    ),
    (
        "bao-2",
        "thoi-su",
        "Khánh Hòa khắc phục hậu quả bão số 9",
        "Sau bão số 9, Khánh Hòa huy động lực lượng dọn cây đổ và khôi phục điện cho người dân.",
    ),
    (
        "hoc-sinh-1",
        "giao-duc",
        "Hơn 600 học sinh Nha Trang ngộ độc sau bữa trưa",
        "Hơn 600 học sinh một trường quốc tế ở Nha Trang nhập viện nghi ngộ độc thực phẩm.",
    ),
    (
        "hoc-sinh-2",
        "giao-duc",
        "Học sinh Nha Trang ngộ độc do nhiễm khuẩn Salmonella",
        "Sở Y tế Khánh Hòa kết luận học sinh ở Nha Trang ngộ độc do vi khuẩn Salmonella.",
    ),
    (
        "dien-1",
        "kinh-doanh",
        "EVN đề xuất khung giá điện mặt trời chuyển tiếp",
        "Tập đoàn Điện lực Việt Nam đề xuất khung giá cho các dự án điện gió, điện mặt trời.",
    ),
]


def short_articles() -> list[Article]:
    """The stories as a feed-only ingest stores them: the lead is both summary and text."""
    out = []
    for n, (aid, category, title, lead) in enumerate(SHORT):
        out.append(
            Article(
                id=aid,
                url=f"https://bao.example.vn/{category}/{aid}.html",
                title=title,
                category=category,
                summary=lead,
                text=lead,
                index_text=lead,
                published=BASE + timedelta(minutes=10 * n),
            )
        )
    return out


# Everyday news sentences. The background articles made of them give the store the document
# frequencies of a real archive, where "người", "dân", "công" or "thương" (thương mại, thương
# hiệu, yêu thương) are in most articles and count for nothing; a store of two dozen stories
# alone would weigh them like names.
EVERYDAY = [
    "Người dân địa phương cho biết tình hình đã ổn định trở lại trong ngày hôm qua.",
    "Theo cơ quan chức năng, công việc đang được triển khai theo kế hoạch của năm nay.",
    "Nhiều người cho rằng đây là vấn đề người dân cần quan tâm trong thời gian tới.",
    "Hoạt động thương mại của người dân tăng trưởng so với cùng kỳ năm ngoái.",
    "Lãnh đạo thành phố yêu cầu các đơn vị liên quan phối hợp thực hiện công việc.",
    "Trong năm nay, doanh nghiệp đặt mục tiêu tăng doanh thu và xây dựng thương hiệu.",
    "Công nhân viên của công ty được hỗ trợ thêm một tháng lương dịp cuối năm.",
    "Chương trình thu hút sự tham gia của đông đảo người dân và du khách trong ngày.",
    "Sự việc đang được cơ quan công an làm rõ, người dân được đề nghị cung cấp thông tin.",
    "Thương hiệu Việt ngày càng được người tiêu dùng tin tưởng và lựa chọn.",
    "Các gia đình có hoàn cảnh khó khăn nhận được sự yêu thương, chia sẻ của cộng đồng.",
    "Ngành chức năng khuyến cáo người dân theo dõi thông tin và chủ động phòng tránh.",
]


def background_articles(n: int = 80, seed: int = 7) -> list[Article]:
    """n everyday articles of four EVERYDAY sentences each, older than the stories."""

    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.sample(EVERYDAY, 4))
        out.append(
            Article(
                id=f"nen-{i}",
                url=f"https://bao.example.vn/tong-hop/nen-{i}.html",
                title=f"Tin tổng hợp sáng thứ {2 + i % 6} tuần {1 + i // 6}",
                category="tong-hop",
                summary=body,
                text=body,
                index_text=body,
                published=BASE - timedelta(days=1 + i),
            )
        )
    return out
