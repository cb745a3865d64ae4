"""The embeddable box in real headless Chromium: a host page on one loopback origin embeds the box
served by quantam on another; the test checks what a reader sees and saves screenshots under
test-artifacts/."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from service.config import load_settings
from service.http.app import create_app
from service.http.embed import iframe_snippet, snippet
from store.models import Alias, Article, Category, Image, IngestBatch, RelatedItem, utcnow
from tests.support.env import ROOT
from tests.support.feedserver import FeedServer, Reply

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = '<img src=x onerror="alert(1)">Tin <script>alert(2)</script> "độc"'

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (CI installs it)", allow_module_level=True)


def png(rgb: tuple[int, int, int]) -> bytes:
    """A 16x10 solid PNG, so thumbnails really load."""
    raw = b"".join(b"\x00" + bytes(rgb) * 16 for _ in range(10))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 16, 10, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Server:
    """quantam's Flask app on a real loopback port."""

    def __init__(self, app) -> None:
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict]:
    """quantam with a main article and six related stories (one with a hostile title), and a
    separate host site that serves the article page and the thumbnails."""
    tmp = tmp_path_factory.mktemp("embed")
    host = FeedServer()
    host.start()
    settings = load_settings(
        environ={}, store=f"sqlite:///{tmp / 'q.db'}", base_url="http://127.0.0.1"
    )
    app = create_app(settings)
    quantam = app.extensions["quantam"]
    now = utcnow()
    articles = []
    for n in range(8):
        host.route(
            f"/img/{n}.png", Reply(body=png((40 * n % 255, 120, 200)), content_type="image/png")
        )
        articles.append(
            Article(
                id=f"bai{n}",
                url=f"https://bao.example.vn/the-thao/bai-{n}.html",
                title=HOSTILE
                if n == 3
                else f"Bài thể thao số {n}: đội tuyển chuẩn bị cho vòng loại",
                category="the-thao",
                summary="Tóm tắt",
                published=now - timedelta(hours=n, minutes=5),
                first_seen=now,
                # bai5 has no thumbnail; bai2's fails to load (nothing is served there)
                image=None
                if n == 5
                else _image(host.url("/img/missing.png" if n == 2 else f"/img/{n}.png")),
            )
        )
    quantam.store.put_category(Category("the-thao", "Thể thao"))
    quantam.store.commit(IngestBatch(articles=articles))

    quantam.store.commit(IngestBatch(aliases=[Alias("url", a.url, a.id) for a in articles]))
    quantam.store.put_related({"bai0": [RelatedItem(f"bai{n}", 1 - n / 10) for n in range(1, 8)]})
    server = Server(app)
    yield {"quantam": server.url, "host": host, "articles": articles, "app": app}
    server.stop()
    host.stop()
    quantam.close()


def _image(url: str):
    return Image(url=url, type="image/png")


def host_page(site: dict, api: str | None = None, count: int = 6) -> str:
    box = snippet(api or site["quantam"], count)
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="canonical" href="{site["articles"][0].url}?utm_source=facebook">
<style>
  * {{ color: red !important; font-size: 40px !important; font-family: serif !important; }}
  h2 {{ display: none !important; }} li {{ display: inline !important; }}
  img {{ width: 600px !important; }} a {{ text-decoration: underline !important; }}
</style></head><body>
<article><h1>Bài chính</h1><p>Nội dung bài viết chính của trang.</p></article>
{box}
<footer id="after">Chân trang</footer>
<script>
  window.__cls = 0;
  new PerformanceObserver(function (list) {{
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
  }}).observe({{type: "layout-shift", buffered: true}});
</script></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def open_page(browser, site: dict, html: str, path: str, width: int = 1000):
    site["host"].route(path, Reply(body=html.encode(), content_type="text/html; charset=utf-8"))
    page = browser.new_page(viewport={"width": width, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site["host"].url(path))
    return page, dialogs


def test_reader_sees_the_box(browser, site: dict) -> None:
    page, dialogs = open_page(browser, site, host_page(site), "/bai-chinh.html")
    items = page.locator(".qt-item")
    items.first.wait_for(timeout=10_000)
    assert items.count() == 6
    assert page.locator(".qt-heading").inner_text() == "Có thể bạn quan tâm"
    titles = page.locator(".qt-title").all_inner_texts()
    assert titles[0] == "Bài thể thao số 1: đội tuyển chuẩn bị cho vòng loại"
    assert HOSTILE in titles  # shown as text, not run
    hrefs = [a.get_attribute("href") for a in page.locator(".qt-link").all()]
    assert hrefs[0] == "https://bao.example.vn/the-thao/bai-1.html"
    times = page.locator(".qt-meta").all_inner_texts()
    assert times[0] == "1 giờ trước" and times[5] == "6 giờ trước"
    assert_no_broken_images(page.locator(".qt-box"))
    assert_readable(page.locator(".qt-box"))
    # the host page's hostile CSS does not reach inside the box
    style = page.locator(".qt-title").first.evaluate(
        "e => [getComputedStyle(e).fontSize, getComputedStyle(e).color]"
    )
    assert style == ["15px", "rgb(31, 35, 40)"]
    assert page.locator(".qt-thumb").first.evaluate("e => e.getBoundingClientRect().width") == 112
    # nothing moved: the reserved space is exactly what the box fills
    page.wait_for_timeout(300)
    assert page.evaluate("window.__cls") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embed-desktop.png"), full_page=True)
    assert dialogs == []
    page.close()


def assert_no_broken_images(box) -> None:
    """Every thumbnail shown has loaded; the one that failed (bai2's) became the plain tile."""
    box.locator("img.qt-thumb").first.wait_for()
    box.page.wait_for_timeout(200)
    images = box.locator("img.qt-thumb")
    loaded = images.evaluate_all("all => all.map(i => i.complete && i.naturalWidth > 0)")
    assert loaded == [True] * 4  # six items: one without a thumbnail, one broken
    assert box.locator("span.qt-thumb").count() == 2
    lazy = images.evaluate_all("all => all.map(i => i.loading)")
    assert set(lazy) == {"lazy"}


def assert_readable(box) -> None:
    """The stylesheet applied (not the browser's Times New Roman) and every title visible."""
    family = box.locator(".qt-title").first.evaluate("e => getComputedStyle(e).fontFamily")
    assert family.startswith("system-ui"), family
    titles = box.locator(".qt-title")
    assert titles.count() == 6
    for i in range(6):
        assert titles.nth(i).is_visible()
        assert titles.nth(i).evaluate("e => e.getBoundingClientRect().height") >= 18


def assert_accessible(page, context: str | None = None) -> None:
    """axe-core (pinned via axe-playwright-python): no serious or critical violation, with the
    WCAG 2.2 target-size rule turned on."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}
    page.evaluate(Axe().axe_script)
    found = page.evaluate(
        "([context, options]) => axe.run(context || document, options).then(r => r.violations)",
        [context, options],
    )
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in found]
    assert not [b for b in bad if b[1] in ("serious", "critical")], bad


def test_the_box_is_accessible(browser, site: dict) -> None:
    page, _ = open_page(browser, site, host_page(site), "/a11y.html")
    page.locator(".qt-item").first.wait_for(timeout=10_000)
    # What a screen reader is given: a region named by its heading, a list of six links.
    snapshot = page.locator("[data-quantam-related]").aria_snapshot()
    assert '- region "Có thể bạn quan tâm"' in snapshot
    assert '- heading "Có thể bạn quan tâm" [level=2]' in snapshot
    assert snapshot.count("- listitem:") == 6
    assert len(re.findall(r"- '?link ", snapshot)) == 6
    assert_accessible(page, "[data-quantam-related]")
    # Keyboard focus is visible: the focused link draws a ring it does not draw unfocused.
    link = page.locator(".qt-link").first
    assert link.evaluate("e => getComputedStyle(e).boxShadow") == "none"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.className") == "qt-link"
    assert link.evaluate("e => getComputedStyle(e).boxShadow") != "none"
    page.close()


def test_the_framed_box_is_accessible_in_both_themes(browser, site: dict) -> None:
    url = site["articles"][0].url
    for scheme in ("light", "dark"):
        page = browser.new_page(viewport={"width": 360, "height": 800}, color_scheme=scheme)
        page.goto(f"{site['quantam']}/embed/related?url={url}&k=6")
        assert_accessible(page)
        background = page.locator(".qt-box").evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(255, 255, 255)")
        page.close()


def test_mobile_width_has_no_horizontal_overflow(browser, site: dict) -> None:
    page, _ = open_page(browser, site, host_page(site, count=4), "/mobile.html", width=360)
    page.locator(".qt-item").first.wait_for(timeout=10_000)
    assert page.locator(".qt-item").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "embed-mobile.png"), full_page=True)
    page.close()


def boxes_page(site: dict, *boxes: str, canonical: int = 0) -> str:
    """A host page with several boxes (each `boxes` entry: the box's data- attributes)."""
    html = host_page(site)
    html = html.replace(site["articles"][0].url, site["articles"][canonical].url)
    first = html.index("<div data-quantam-related")
    end = html.index("</div>", first) + len("</div>")
    divs = "\n".join(
        f'<div data-quantam-related {attrs} style="min-height:{min_height(attrs)}px"></div>'
        for attrs in boxes
    )
    return html[:first] + divs + html[end:]


def min_height(attrs: str, width: int = 1000) -> int:
    """What the page reserves: as embed.js will (44 px + 88 px a row, two a row in a wide grid)."""
    count = int(re.search(r'data-count="(\d+)"', attrs)[1])
    rows = (count + 1) // 2 if 'data-layout="grid"' in attrs and width >= 560 else count
    return 44 + 88 * rows


def api_gets(page, site: dict) -> list[str]:
    seen: list[str] = []
    page.on(
        "request",
        lambda r: (
            seen.append(r.url)
            if r.method == "GET" and r.url.startswith(site["quantam"] + "/api/")
            else None
        ),
    )
    return seen


def test_several_boxes_come_from_one_request_without_repeats(browser, site: dict) -> None:
    html = boxes_page(
        site,
        'data-mode="related" data-count="3"',
        'data-mode="latest" data-count="2"',
        'data-mode="popular" data-count="2"',
    )
    site["host"].route("/nhieu-hop.html", Reply(body=html.encode(), content_type="text/html"))
    page = browser.new_page(viewport={"width": 1000, "height": 2000})
    requests = api_gets(page, site)
    page.goto(site["host"].url("/nhieu-hop.html"))
    page.locator(".qt-item").nth(6).wait_for(timeout=10_000)
    assert len(requests) == 1 and "/api/box?" in requests[0]
    assert "boxes=related:3,latest:2,popular:2" in requests[0]
    headings = page.locator(".qt-heading").all_inner_texts()
    assert headings == ["Có thể bạn quan tâm", "Tin cùng chuyên mục", "Đọc nhiều"]
    hrefs = [a.get_attribute("href") for a in page.locator(".qt-link").all()]
    assert len(hrefs) == 7 == len(set(hrefs))
    assert site["articles"][0].url not in hrefs
    page.wait_for_timeout(300)
    assert page.evaluate("window.__cls") == 0
    assert_accessible(page, "[data-quantam-related]")
    page.screenshot(path=str(ARTIFACTS / "embed-boxes.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_box_options_lead_section_grid_english(browser, site: dict, scheme: str) -> None:
    attrs = 'data-count="4" data-summary data-section="1" data-layout="grid" data-lang="en"'
    html = boxes_page(
        site, attrs, 'data-mode="latest" data-count="2" data-layout="text" data-lang="en"'
    )
    site["host"].route(
        f"/lua-chon-{scheme}.html", Reply(body=html.encode(), content_type="text/html")
    )
    page = browser.new_page(viewport={"width": 1000, "height": 1400}, color_scheme=scheme)
    page.goto(site["host"].url(f"/lua-chon-{scheme}.html"))
    page.locator(".qt-item").nth(5).wait_for(timeout=10_000)
    first = page.locator("[data-quantam-related]").first
    assert first.locator(".qt-heading").inner_text() == "You may also like"
    assert first.locator(".qt-lead").first.inner_text() == "Tóm tắt"
    assert first.locator(".qt-section").first.inner_text() == "Thể thao"
    assert first.locator("time").first.inner_text() == "1 hour ago"
    boxes = first.locator(".qt-item").evaluate_all(
        "all => all.map(e => [e.getBoundingClientRect().x, e.getBoundingClientRect().y])"
    )
    assert boxes[0][1] == boxes[1][1] and boxes[0][0] < boxes[1][0]  # two columns
    text_only = page.locator("[data-quantam-related]").nth(1)
    assert text_only.locator(".qt-heading").inner_text() == "More in this section"
    assert text_only.locator(".qt-thumb").first.is_hidden()
    hrefs = [a.get_attribute("href") for a in page.locator(".qt-link").all()]
    assert len(hrefs) == 6 == len(set(hrefs))  # one request: no story in both boxes
    background = first.locator(".qt-box").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(255, 255, 255)")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__cls") == 0
    assert_accessible(page, "[data-quantam-related]")
    page.screenshot(path=str(ARTIFACTS / f"embed-options-{scheme}.png"), full_page=True)
    page.close()


def test_the_box_reports_impressions_and_clicks(browser, site: dict) -> None:
    app = site["app"]
    page = browser.new_page(
        viewport={"width": 1000, "height": 2000},
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    )
    site["host"].route(
        "/do-dem.html", Reply(body=host_page(site).encode(), content_type="text/html")
    )
    page.route(
        "https://bao.example.vn/**", lambda r: r.fulfill(body="bài", content_type="text/html")
    )
    with page.expect_request(lambda r: r.url.endswith("/api/events")) as seen:
        page.goto(site["host"].url("/do-dem.html"))
    impressions = json.loads(seen.value.post_data)["events"]
    assert [e["position"] for e in impressions] == [1, 2, 3, 4, 5, 6]
    assert {e["type"] for e in impressions} == {"impression"} and impressions[0]["from"] == "bai0"
    with page.expect_request(lambda r: r.url.endswith("/api/events")) as clicked:
        page.locator(".qt-link").nth(1).click()
    assert json.loads(clicked.value.post_data)["events"] == [
        {"type": "click", "id": "bai2", "from": "bai0", "position": 2}
    ]
    page.wait_for_timeout(300)
    app.extensions["quantam.events"].flush(app.extensions["quantam"].store)
    top = app.extensions["quantam"].store.popular("the-thao", utcnow() - timedelta(hours=1), 1)
    assert (top[0].article_id, top[0].clicks, top[0].impressions) == ("bai2", 1, 1)
    page.close()


def dead_url() -> str:
    with socket.socket() as probe:  # a free port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize("down", ["api", "script"])
def test_box_degrades_to_nothing_when_quantam_is_down(browser, site: dict, down: str) -> None:
    """The API gone (the script was cached) or quantam gone altogether (no script either)."""
    if down == "api":
        html = host_page(site).replace(
            "data-quantam-related", f'data-quantam-related data-api="{dead_url()}"'
        )
    else:
        html = host_page(site, api=dead_url())
    page, dialogs = open_page(browser, site, html, f"/down-{down}.html")
    page.wait_for_function(
        "() => document.querySelector('[data-quantam-related]').offsetHeight === 0",
        timeout=10_000,
    )
    assert page.locator(".qt-item").count() == 0
    assert page.locator("#after").inner_text() == "Chân trang"
    assert dialogs == []
    page.close()


def iframe_page(base: str, url: str, **options: str) -> str:
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<p>Bài chính</p>
{iframe_snippet(base, url, **options)}
<footer id="after">Chân trang</footer></body></html>"""


@pytest.mark.parametrize("width", [1000, 360])
def test_iframe_fallback_page(browser, site: dict, width: int) -> None:
    page, dialogs = open_page(
        browser,
        site,
        iframe_page(site["quantam"], site["articles"][0].url),
        f"/iframe-{width}.html",
        width=width,
    )
    frame = page.frame_locator("[data-quantam-frame]")
    frame.locator(".qt-item").first.wait_for(timeout=10_000)
    assert frame.locator(".qt-item").count() == 6
    assert HOSTILE in frame.locator(".qt-title").all_inner_texts()
    box = frame.locator(".qt-box")
    assert_readable(box)
    assert_no_broken_images(box)
    # The frame takes the box's own height (posted by the framed page), and nothing overflows.
    page.wait_for_function(
        "() => document.querySelector('[data-quantam-frame]').offsetHeight === 44 + 6 * 88"
    )
    inner = frame.locator("html").evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert inner[0] <= inner[1]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"embed-iframe-{width}.png"), full_page=True)
    assert dialogs == []
    page.close()


def test_iframe_of_an_unknown_page_folds_away(browser, site: dict) -> None:
    """With fill off (fill=0), a page quantam does not know shows nothing at all."""
    page, _ = open_page(
        browser,
        site,
        iframe_page(site["quantam"], "https://khac.example/khong-co.html", fill="0"),
        "/iframe-unknown.html",
    )
    page.wait_for_function(
        "() => document.querySelector('[data-quantam-frame]').offsetHeight === 0",
        timeout=10_000,
    )
    assert page.frame_locator("[data-quantam-frame]").locator("body").inner_text() == ""
    page.close()


def test_iframe_during_a_store_outage_folds_away(browser, site: dict) -> None:
    """A store that cannot be reached: the framed page's body is empty (test_related_api.py
    checks the answer), and the frame folds away."""
    dead = dead_url().replace("http://", "redis://") + "/0?prefix=x&socket_connect_timeout=0.5"
    app = create_app(load_settings(environ={}, store=dead, base_url="http://127.0.0.1"))
    server = Server(app)
    try:
        page, _ = open_page(
            browser, site, iframe_page(server.url, site["articles"][0].url), "/iframe-down.html"
        )
        page.wait_for_function(
            "() => document.querySelector('[data-quantam-frame]').offsetHeight === 0",
            timeout=10_000,
        )
        page.close()
    finally:
        server.stop()
        app.extensions["quantam"].close()
