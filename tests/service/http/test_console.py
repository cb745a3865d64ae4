"""The console over HTTP (a real Flask app on a real SQLite file): signing in and out, the
session cookie, CSRF tokens, the sign-in limit, every page signed out and in. What a person
sees in a browser is tested in test_console_browser.py."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from service.http.console.auth import MAX_FAILURES
from service.http.console.passwords import hash_password
from store.editorial import MAX_BLOCKED_EVERYWHERE, SiteRules, User
from store.models import Category, Source, utcnow
from tests.support.apps import news_app

PASSWORD = "mật khẩu thật dài"


def make_app(tmp_path: Path, base_url: str = "https://news.example.vn", user: bool = True):
    app = news_app(tmp_path, base_url=base_url, site_name="Báo Mẫu")
    if user:
        store = app.extensions["quantam"].store
        store.put_user(User("bientap", hash_password(PASSWORD), utcnow()))
    return app


@pytest.fixture
def client(tmp_path: Path):
    """A test client of the app signed out; `client.application` is the app."""
    app = make_app(tmp_path)
    yield app.test_client()
    app.extensions["quantam"].close()


def csrf(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: Any, password: str = PASSWORD, name: str = "bientap") -> Any:
    token = csrf(client.get("/admin/signin"))
    return client.post(
        "/admin/signin", data={"csrf": token, "name": name, "password": password, "next": ""}
    )


PAGES = ["/admin/", "/admin/sources", "/admin/articles", "/admin/rules", "/admin/audit"]


def test_signed_out_every_page_redirects_to_sign_in(client) -> None:
    app = client.application
    article = app.extensions["quantam"].store.latest_articles(limit=1)[0].id
    for path in [*PAGES, f"/admin/articles/{article}", "/admin/sources.opml"]:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/admin/signin?next=/admin")
    # A signed-out POST is refused too (no token, no session): nothing changes.
    assert client.post(f"/admin/articles/{article}/takedown").status_code == 400
    assert app.extensions["quantam"].store.get_article(article) is not None


def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_it(client) -> None:
    app = client.application
    answer = sign_in(client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("quantam_console=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["Cache-Control"] == "no-store"
    token = csrf(client.get("/admin/"))
    out = client.post("/admin/signout", data={"csrf": token})
    assert out.status_code == 302
    assert client.get("/admin/").status_code == 302
    actions = [e.action for e in app.extensions["quantam"].store.audit_log()]
    assert actions[:2] == ["signed out", "signed in"]


def test_plain_http_base_url_leaves_secure_off(tmp_path: Path) -> None:
    app = make_app(tmp_path, base_url="http://127.0.0.1:8000")
    cookie = sign_in(app.test_client()).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie
    app.extensions["quantam"].close()


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(client) -> None:
    app = client.application
    sign_in(client)
    store = app.extensions["quantam"].store
    article = store.latest_articles(limit=1)[0].id
    for data in ({}, {"csrf": "forged"}):
        answer = client.post(f"/admin/articles/{article}/takedown", data=data)
        assert answer.status_code == 400
        assert "security token is missing or out of date" in answer.get_data(as_text=True)
    assert store.get_article(article) is not None
    # The sign-in form needs its token too.
    refused = client.post("/admin/signin", data={"name": "bientap", "password": PASSWORD})
    assert refused.status_code == 400


def test_wrong_passwords_are_refused_then_limited(client) -> None:
    for _ in range(MAX_FAILURES):
        assert sign_in(client, password="wrong password!").status_code == 401
    limited = sign_in(client)  # even the right password waits now
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in limited.get_data(as_text=True)


def test_a_removed_user_or_new_password_ends_the_session(client) -> None:
    app = client.application
    sign_in(client)
    assert client.get("/admin/").status_code == 200
    store = app.extensions["quantam"].store
    store.put_user(User("bientap", hash_password("another long password"), utcnow()))
    assert client.get("/admin/").status_code == 302
    store.remove_user("bientap")
    assert sign_in(client).status_code == 401


def test_with_no_user_the_sign_in_page_says_how_to_make_one(tmp_path: Path) -> None:
    app = make_app(tmp_path, user=False)
    page = app.test_client().get("/admin/signin").get_data(as_text=True)
    assert "There is no user yet" in page and "quantam users add NAME --password-stdin" in page
    app.extensions["quantam"].close()


def test_next_never_leads_off_the_console(client) -> None:
    token = csrf(client.get("/admin/signin"))
    answer = client.post(
        "/admin/signin",
        data={"csrf": token, "name": "bientap", "password": PASSWORD, "next": "//evil.example/"},
    )
    assert answer.headers["Location"] == "/admin/"


def test_home_page_lists_categories_feeds_and_headlines(client) -> None:
    app = client.application
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<title>Báo Mẫu</title>" in html and "Thể thao" in html
    for link in ("/feeds/the-thao.rss", "/feeds/the-thao.atom", "/feeds/the-thao.json"):
        assert f"https://news.example.vn{link}" in html
    assert "/feeds.opml" in html and "/openapi.json" in html
    newest = app.extensions["quantam"].store.latest_articles("the-thao", limit=1)[0]
    assert newest.title in html
    assert "<script" not in html
    assert "Set-Cookie" not in page.headers


def signed_in(client: Any) -> str:
    """Sign in and return a CSRF token for the session's forms."""
    sign_in(client)
    return csrf(client.get("/admin/"))


def test_sources_edit_disable_enable_remove_and_opml(client) -> None:
    store = client.application.extensions["quantam"].store
    token = signed_in(client)
    source = store.add_source(
        Source(url="https://bao.example.vn/rss/the-thao.rss", category="the-thao", name="Báo")
    )
    base = f"/admin/sources/{source.id}"
    client.post(f"{base}/edit", data={"csrf": token, "title": "Báo mới", "full_text": "never"})
    assert (store.get_source(source.id).name, store.get_source(source.id).full_text) == (
        "Báo mới",
        "never",
    )
    client.post(f"{base}/disable", data={"csrf": token})
    assert store.get_source(source.id).enabled is False
    assert "disabled by the operator" in client.get("/admin/sources").get_data(as_text=True)
    client.post(f"{base}/enable", data={"csrf": token})
    assert store.get_source(source.id).enabled is True
    exported = client.get("/admin/sources.opml")
    assert (
        exported.mimetype == "text/x-opml" and b"bao.example.vn/rss/the-thao.rss" in exported.data
    )
    client.post(f"{base}/remove", data={"csrf": token})
    assert store.get_source(source.id) is None
    imported = client.post(
        "/admin/sources/import",
        data={"csrf": token, "opml": (io.BytesIO(exported.data), "s.opml")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Imported 1 sources (0 already present)" in imported.get_data(as_text=True)
    assert [s.url for s in store.list_sources()] == ["https://bao.example.vn/rss/the-thao.rss"]
    bad = client.post(
        "/admin/sources/import",
        data={"csrf": token, "opml": (io.BytesIO(b"<html>no</html>"), "x.opml")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "x.opml:" in bad.get_data(as_text=True)
    log = [e.action for e in store.audit_log()]
    for action in ("edited source", "disabled source", "enabled source", "removed source"):
        assert action in log


def test_a_bad_source_is_refused_in_words(client) -> None:
    token = signed_in(client)
    page = client.post(
        "/admin/sources",
        data={"csrf": token, "url": "ftp://x.example/feed", "category": "the-thao"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Not added:" in page


def test_articles_search_by_title_url_category_and_date(client) -> None:
    store = client.application.extensions["quantam"].store
    token = signed_in(client)
    assert token
    newest = store.latest_articles(limit=1)[0]
    word = newest.title.split()[0]
    page = client.get(f"/admin/articles?q={word}&category=the-thao").get_data(as_text=True)
    assert newest.title in page
    by_url = client.get(f"/admin/articles?q={newest.url}").get_data(as_text=True)
    assert "1 found" in by_url and newest.title in by_url
    day = newest.published.strftime("%Y-%m-%d")
    assert newest.title in client.get(f"/admin/articles?date={day}").get_data(as_text=True)
    assert "0 found" in client.get("/admin/articles?date=1999-01-01").get_data(as_text=True)
    assert "is not a date" in client.get("/admin/articles?date=soon").get_data(as_text=True)
    missing = client.get("/admin/articles/no-such-id")
    assert missing.status_code == 404 and "There is no such article" in missing.get_data(
        as_text=True
    )


def test_never_pair_rules_and_blocks_everywhere_from_the_console(client) -> None:
    store = client.application.extensions["quantam"].store
    store.put_category(Category("kinh-te", "Kinh tế"))
    token = signed_in(client)
    client.post("/admin/rules/pairs", data={"csrf": token, "a": "the-thao", "b": "kinh-te"})
    assert store.get_site_rules().never_pair == (("kinh-te", "the-thao"),)
    same = client.post(
        "/admin/rules/pairs",
        data={"csrf": token, "a": "kinh-te", "b": "kinh-te"},
        follow_redirects=True,
    )
    assert "Choose two different categories." in same.get_data(as_text=True)
    client.post(
        "/admin/rules/pairs", data={"csrf": token, "a": "kinh-te", "b": "the-thao", "remove": "1"}
    )
    assert store.get_site_rules().never_pair == ()
    article = store.latest_articles(limit=1)[0].id
    client.post(f"/admin/articles/{article}/everywhere", data={"csrf": token, "block": "1"})
    assert store.get_site_rules().blocked == (article,)
    assert "Blocked from every related list" in client.get(f"/admin/articles/{article}").get_data(
        as_text=True
    )
    client.post(f"/admin/articles/{article}/everywhere", data={"csrf": token, "block": "0"})
    assert store.get_site_rules().blocked == ()
    full = tuple(f"x{n}" for n in range(MAX_BLOCKED_EVERYWHERE))
    store.put_site_rules(SiteRules(full))
    page = client.post(
        f"/admin/articles/{article}/everywhere",
        data={"csrf": token, "block": "1"},
        follow_redirects=True,
    )
    assert "take this one down" in page.get_data(as_text=True)
    assert store.get_site_rules().blocked == full


def test_pin_errors_are_shown_in_words(client) -> None:
    store = client.application.extensions["quantam"].store
    token = signed_in(client)
    article = store.latest_articles(limit=1)[0].id
    url = f"/admin/articles/{article}/pin"
    for data, words in (
        ({"ref": "no-such-id", "position": "1"}, "no article with id"),
        ({"ref": article, "position": "1"}, "cannot be pinned or blocked in its own list"),
        ({"ref": "x", "position": "99"}, "The position must be 1 to 20."),
        ({"ref": "", "position": "1"}, "Give an article id or URL to pin."),
    ):
        page = client.post(url, data={"csrf": token, **data}, follow_redirects=True)
        assert words in page.get_data(as_text=True), data
    assert not store.get_overrides(article)


def test_a_category_is_renamed_and_feeds_use_the_name(client) -> None:
    store = client.application.extensions["quantam"].store
    token = signed_in(client)
    client.post("/admin/categories/the-thao", data={"csrf": token, "name": "  Thể thao 24h "})
    assert store.get_category("the-thao").name == "Thể thao 24h"
    feed = client.get("/feeds/the-thao.rss").get_data(as_text=True)
    assert "<title>Thể thao 24h – Báo Mẫu</title>" in feed
    empty = client.post(
        "/admin/categories/the-thao", data={"csrf": token, "name": " "}, follow_redirects=True
    )
    assert "Give the category a name." in empty.get_data(as_text=True)
    assert (
        client.post("/admin/categories/nope", data={"csrf": token, "name": "x"}).status_code == 404
    )
