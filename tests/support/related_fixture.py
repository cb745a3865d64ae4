"""A handful of short Vietnamese news articles written for the tests, in three categories.

Two pairs are obviously related (the same storm; the same football match) and one article is a
syndicated copy of another with a different headline.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.models import Article

BASE = datetime(2024, 9, 10, 8, 0, tzinfo=UTC)

TEXTS = [
    (
        "bao-1",
        "thoi-su",
        "Bão Yagi đổ bộ vào Quảng Ninh, gió giật cấp 16",
        "Chiều 7/9, bão Yagi đổ bộ vào Quảng Ninh và Hải Phòng với sức gió giật cấp 16. "
        "Hàng nghìn cây xanh bị quật đổ, nhiều mái nhà bị tốc. Ban chỉ đạo phòng chống thiên tai "
        "yêu cầu người dân ở trong nhà, không ra đường khi bão đang hoành hành.",
        0,
    ),
    (
        "bao-2",
        "thoi-su",
        "Sau bão Yagi, Hải Phòng khắc phục cây đổ và mất điện",
        "Một ngày sau khi bão Yagi quét qua, Hải Phòng huy động lực lượng dọn cây xanh bị quật đổ. "
        "Ngành điện khẩn trương khôi phục điện cho người dân Quảng Ninh và Hải Phòng bị mất điện "
        "sau bão.",
        1,
    ),
    (
        "bong-da-1",
        "the-thao",
        "Tuyển Việt Nam thắng Thái Lan 2-1 ở chung kết AFF Cup",
        "Đội tuyển Việt Nam đánh bại Thái Lan với tỷ số 2-1 trong trận chung kết lượt đi AFF Cup. "
        "Tiền đạo Xuân Son ghi hai bàn, huấn luyện viên Kim Sang-sik khen các cầu thủ thi đấu "
        "kỷ luật.",
        2,
    ),
    (
        "bong-da-2",
        "the-thao",
        "Xuân Son lập cú đúp, tuyển Việt Nam rộng cửa vô địch AFF Cup",
        "Sau chiến thắng 2-1 trước Thái Lan ở chung kết lượt đi AFF Cup, tuyển Việt Nam chỉ cần "
        "một trận hòa ở lượt về. Xuân Son tiếp tục là chân sút số một của huấn luyện viên Kim "
        "Sang-sik.",
        3,
    ),
    (
        "kinh-te-1",
        "kinh-doanh",
        "Giá vàng miếng SJC tăng mạnh, vượt 90 triệu đồng mỗi lượng",
        "Giá vàng miếng SJC sáng nay tăng thêm một triệu đồng, vượt mốc 90 triệu đồng mỗi lượng. "
        "Ngân hàng Nhà nước tiếp tục bán vàng bình ổn thị trường.",
        4,
    ),
    (
        "kinh-te-2",
        "kinh-doanh",
        "Lãi suất tiết kiệm ngân hàng đồng loạt giảm",
        "Nhiều ngân hàng thương mại giảm lãi suất huy động kỳ hạn ngắn. Lãi suất tiết kiệm kỳ "
        "hạn 12 tháng phổ biến quanh mức 5 phần trăm một năm.",
        5,
    ),
    (
        "giao-duc-1",
        "xa-hoi",
        "Học sinh Hà Nội đi học trở lại sau kỳ nghỉ",
        "Sáng nay học sinh Hà Nội trở lại trường. Các trường học kiểm tra cơ sở vật chất, "
        "lớp học và sân trường trước khi đón học sinh.",
        6,
    ),
    (
        "bao-1-copy",
        "thoi-su",
        "Bão số 3 đổ bộ Quảng Ninh",
        "Chiều 7/9, bão Yagi đổ bộ vào Quảng Ninh và Hải Phòng với sức gió giật cấp 16. "
        "Hàng nghìn cây xanh bị quật đổ, nhiều mái nhà bị tốc. Ban chỉ đạo phòng chống thiên tai "
        "yêu cầu người dân ở trong nhà, không ra đường khi bão đang hoành hành.",
        7,
    ),
]


def articles(base: datetime = BASE) -> list[Article]:
    out = []
    for aid, category, title, text, hours in TEXTS:
        out.append(
            Article(
                id=aid,
                url=f"https://news.example/{category}/{aid}.html",
                title=title,
                category=category,
                text=text,
                index_text=text,
                published=base + timedelta(hours=hours),
            )
        )
    return out
