"""The console in real headless Chromium (Debian's `chromium`, through Playwright), as an editor
uses it: sign in, see a failing source and its error, add a source, preview the box, pin and
block and see the API and the box change, take down, sign out. Every page is scanned with
axe-core and photographed at 390 and 1280 px into test-artifacts/."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from service.config import load_settings
from service.http.app import create_app
from service.http.console.passwords import hash_password
from store.editorial import User
from store.models import Alias, Article, IngestBatch, RelatedItem, Source, utcnow
from tests.support.browser import CHROMIUM, chromium
from tests.support.env import ROOT
from tests.support.feedserver import FeedServer, Reply

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "mật khẩu thật dài"
WIDTHS = (390, 1280)

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (CI installs it)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _story(n: int, category: str = "the-thao") -> Article:
    return Article(
        id=f"bai{n}",
        url=f"https://bao.example.vn/{category}/bai-{n}.html",
        title=f"Bài {category} số {n}: đội tuyển chuẩn bị cho vòng loại",
        category=category,
        summary="Tóm tắt",
        published=utcnow() - timedelta(hours=n),
        first_seen=utcnow() - timedelta(hours=n),
        author="Phóng viên",
        tags=("bóng đá",),
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """quantam on a real loopback port with ten stories, a list for bai0, an operator, a feed
    server whose one feed fails (polled once, for real) and one that works."""
    tmp: Path = tmp_path_factory.mktemp("console")
    feeds = FeedServer()
    feeds.start()
    feeds.route("/broken.rss", Reply(status=500, body=b"down for maintenance"))
    feeds.route(
        "/good.rss",
        Reply(
            body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>'
            b"<link>https://good.example.vn/</link><description>d</description></channel></rss>",
            content_type="application/rss+xml",
        ),
    )
    port = _free_port()
    settings = load_settings(
        environ={},
        store=f"sqlite:///{tmp / 'q.db'}",
        base_url=f"http://127.0.0.1:{port}",
        site_name="Báo Mẫu",
        allow_private_fetch=True,
    )
    app = create_app(settings)
    quantam = app.extensions["quantam"]
    store = quantam.store
    stories = [_story(n) for n in range(8)] + [_story(n, "thoi-su") for n in (8, 9)]
    quantam.ingestor.ensure_category("the-thao", "Thể thao")
    quantam.ingestor.ensure_category("thoi-su", "Thời sự")
    store.commit(IngestBatch(articles=stories))
    store.commit(IngestBatch(aliases=[Alias("url", a.url, a.id) for a in stories]))
    store.put_related(
        {"bai0": [RelatedItem(f"bai{n}", 1 - n / 10, reason=("vòng loại",)) for n in range(1, 7)]}
    )
    store.put_user(User("bientap", hash_password(PASSWORD), utcnow()))
    store.add_source(Source(url=feeds.url("/broken.rss"), category="the-thao", name="Hỏng"))
    quantam.poller.host_delay = 0
    quantam.poller.poll_once(force=True)
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": settings.base_url, "feeds": feeds, "store": store}
    httpd.shutdown()
    feeds.stop()
    quantam.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Any, site: dict[str, Any]) -> None:
    page.goto(site["url"] + "/admin/")
    assert "/admin/signin" in page.url
    page.get_by_label("Name").fill("bientap")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site["url"] + "/admin/")


def api_related(site: dict[str, Any], article_id: str) -> list[str]:
    with urllib.request.urlopen(f"{site['url']}/api/articles/{article_id}/related") as answer:
        return [i["id"] for i in json.load(answer)["items"]]


def box_titles(page: Any, frame_title: str) -> list[str]:
    frame = page.frame_locator(f'iframe[title="{frame_title}"]')
    frame.locator(".qt-item").first.wait_for(timeout=10_000)
    return frame.locator(".qt-title").all_inner_texts()


def test_signed_out_the_console_sends_everyone_to_sign_in(page, site) -> None:
    for path in ("/admin/", "/admin/sources", "/admin/articles/bai0", "/admin/audit"):
        page.goto(site["url"] + path)
        assert page.url.startswith(site["url"] + "/admin/signin?next=/admin")
        assert page.get_by_role("heading", name="Sign in").is_visible()
    assert "Take down" not in page.content()


def test_sign_in_see_the_failing_source_add_one_and_sign_out(page, site) -> None:
    sign_in(page, site)
    overview = page.locator("main").inner_text()
    assert "Sources in error" in overview and "Hỏng" in overview
    assert "500" in overview  # the error in words names the HTTP status
    page.get_by_role("link", name="Sources").click()
    row = page.locator("tr", has_text="Hỏng")
    assert "error" in row.inner_text() and "Error:" in row.inner_text()
    page.get_by_label("Feed URL").fill(site["feeds"].url("/good.rss"))
    page.get_by_label("Category (slug or a new name)").fill("the-thao")
    page.get_by_label("Title (optional)").fill("Nguồn tốt")
    page.get_by_role("button", name="Add source").click()
    assert page.get_by_role("status").first.inner_text().startswith("Added source")
    assert page.locator("tr", has_text="Nguồn tốt").count() == 1
    assert any(s.name == "Nguồn tốt" for s in site["store"].list_sources())
    page.get_by_role("button", name="Sign out bientap").click()
    assert "You are signed out." in page.locator("main").inner_text()
    page.goto(site["url"] + "/admin/sources")
    assert "/admin/signin" in page.url


def test_pin_block_and_take_down_change_the_api_and_the_box(page, site) -> None:
    sign_in(page, site)
    page.goto(site["url"] + "/admin/articles/bai0")
    before = box_titles(page, "Box preview at 390 px")
    assert before[0].startswith("Bài the-thao số 1") and len(before) == 6
    assert api_related(site, "bai0")[:2] == ["bai1", "bai2"]
    assert "vòng loại" in page.locator("#related").inner_text()  # the reasons are shown

    page.get_by_label("Pin an article (id or URL)").fill(
        "https://bao.example.vn/thoi-su/bai-9.html"
    )
    page.get_by_label("at position").fill("1")
    page.get_by_role("button", name="Pin", exact=True).click()
    assert "Saved" in page.get_by_role("status").first.inner_text()
    assert api_related(site, "bai0")[0] == "bai9"
    assert "Pinned by an editor" in page.locator("#related tr", has_text="số 9").inner_text()
    assert box_titles(page, "Box preview at 1024 px")[0].startswith("Bài thoi-su số 9")

    page.get_by_role(
        "button", name="Block Bài the-thao số 1: đội tuyển chuẩn bị cho vòng loại from this list"
    ).click()
    assert "bai1" not in api_related(site, "bai0")
    assert not any("số 1:" in t for t in box_titles(page, "Box preview at 390 px"))
    assert "Blocked:" in page.locator("#overrides").inner_text()

    page.goto(site["url"] + "/admin/articles/bai2")
    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Take down").click()
    assert "Took down" in page.get_by_role("status").first.inner_text()
    assert "bai2" not in api_related(site, "bai0")
    page.goto(site["url"] + "/admin/audit")
    log = page.locator("table").inner_text()
    assert "took down" in log and "changed the related list's overrides" in log
    assert "bientap" in log


def test_a_form_without_its_csrf_token_is_refused(page, site) -> None:
    sign_in(page, site)
    page.goto(site["url"] + "/admin/articles/bai3")
    form = page.locator("form", has=page.get_by_role("button", name="Block it from every list"))
    form.locator('input[name="csrf"]').evaluate("e => e.remove()")
    with page.expect_response(lambda r: r.url.endswith("/everywhere")) as answer:
        form.get_by_role("button").click()
    assert answer.value.status == 400
    assert "security token is missing or out of date" in page.locator("main").inner_text()
    assert "bai3" not in site["store"].get_site_rules().blocked


def _fits(page: Any, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url} is {overflow} px wide at {width} px"


def _axe(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"


PAGES = {
    "home": ("/", "Báo Mẫu"),
    "signin": ("/admin/signin", "Sign in"),
    "overview": ("/admin/", "Articles ingested per hour"),
    "sources": ("/admin/sources", "Add a source"),
    "articles": ("/admin/articles?q=vòng", "found"),
    "article": ("/admin/articles/bai0", "The box as readers see it"),
    "rules": ("/admin/rules", "Categories never paired"),
    "audit": ("/admin/audit", "Audit log"),
}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_passes_axe_fits_the_screen_and_is_photographed(
    browser, site, width: int
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        for name, (path, text) in PAGES.items():
            if name == "overview":
                sign_in(page, site)
            page.goto(site["url"] + path)
            assert text in page.locator("body").inner_text(), name
            if name == "article":
                box_titles(page, "Box preview at 390 px")
            if name == "sources" and width < 600:
                # On a phone each source is a card of labelled lines, not a squeezed column.
                cell = page.locator('td[data-label="Source"]').first
                assert cell.evaluate("e => e.getBoundingClientRect().width") > 300
                status = page.locator("tr", has_text="Hỏng").locator('td[data-label="Status"]')
                label = "e => getComputedStyle(e, '::before').content"
                assert status.evaluate(label) == '"Status: "'
                assert "Error: the server failed (500" in status.inner_text()
            _fits(page, width)
            _axe(page)
            page.screenshot(path=str(ARTIFACTS / f"console-{name}-{width}.png"), full_page=True)
    finally:
        context.close()
