"""Popularity end to end through the real Flask app on a real SQLite file: the box's beacons
(POST /api/events), "Đọc nhiều" as JSON and as feeds, the fill of short related lists, and the
click-through rate in /metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.http import events
from service.http.events import CLIENT_EVENTS_PER_MINUTE, MAX_BODY, MAX_EVENTS
from store.models import Category, IngestBatch, utcnow
from tests.support.articles import make_article
from tests.support.webapp import app_with_categories

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
READER = {"User-Agent": BROWSER, "Content-Type": "text/plain;charset=UTF-8"}


@pytest.fixture
def app(tmp_path: Path):
    app = app_with_categories(
        tmp_path, Category("the-thao", "Thể thao"), Category("thoi-su", "Thời sự")
    )
    store = app.extensions["quantam"].store
    articles = [make_article(n) for n in range(1, 7)] + [make_article(9, category="thoi-su")]
    store.commit(IngestBatch(articles=articles))
    app.config["ids"] = [a.id for a in articles]
    yield app
    app.extensions["quantam"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def beacon(client, events: list[dict], address: str = "203.0.113.7", **headers):
    body = json.dumps({"events": events})
    return client.post(
        "/api/events",
        data=body,
        headers={**READER, **headers},
        environ_base={"REMOTE_ADDR": address},
    )


def flush(app) -> None:
    app.extensions["quantam.events"].flush(app.extensions["quantam"].store)


def popular(client, query: str = "") -> list[tuple[str, int, int]]:
    answer = client.get(f"/api/categories/the-thao/popular{query}")
    assert answer.status_code == 200, answer.get_json()
    return [(i["id"], i["clicks"], i["impressions"]) for i in answer.get_json()["items"]]


def test_beacons_become_the_most_read_list(app, client, tmp_path: Path) -> None:
    ids = app.config["ids"]
    seen = [
        {"type": "impression", "id": i, "from": ids[0], "position": n + 1}
        for n, i in enumerate(ids[1:5])
    ]
    answer = beacon(client, [*seen, {"type": "click", "id": ids[2], "from": ids[0], "position": 2}])
    assert answer.status_code == 202
    assert answer.get_json() == {"counted": 5, "ignored": 0}
    assert "Set-Cookie" not in answer.headers
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    # another reader clicks ids[3]; an unknown id is ignored
    beacon(
        client, [{"type": "click", "id": ids[3]}, {"type": "click", "id": "nope"}], "198.51.100.2"
    )
    beacon(client, [{"type": "impression", "id": ids[6]}], "198.51.100.2")  # thời sự
    flush(app)
    assert popular(client) == [
        (ids[3], 1, 1),
        (ids[2], 1, 1),  # tie on clicks and impressions: the newer (ids[3]) first
        (ids[4], 0, 1),
        (ids[1], 0, 1),
    ]
    assert popular(client, "?k=1") == [(ids[3], 1, 1)]
    assert popular(client, f"?k=6&exclude={ids[3]}")[0][0] == ids[2]
    # counts, and nothing else: not the address, not the user agent, no cookie
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("q.db*"))
    for trace in (b"203.0.113.7", b"198.51.100.2", BROWSER.encode(), b"Chrome/131"):
        assert trace not in raw


def test_an_unknown_article_is_counted_once_it_is_stored(app, client) -> None:
    """Ids found in the store are remembered per process; ids not found are asked again, so an
    article a beacon names before it is stored (a CMS push racing the page) counts later."""
    late = make_article(7)
    event = [{"type": "click", "id": late.id}]
    assert beacon(client, event, "192.0.2.31").get_json() == {"counted": 0, "ignored": 1}
    app.extensions["quantam"].store.commit(IngestBatch(articles=[late]))
    assert beacon(client, event, "192.0.2.32").get_json() == {"counted": 1, "ignored": 0}
    assert beacon(client, event, "192.0.2.33").get_json() == {"counted": 1, "ignored": 0}
    flush(app)
    assert (late.id, 2, 0) in popular(client)


def test_repeats_bots_and_floods_are_not_counted(app, client) -> None:
    ids = app.config["ids"]
    click = [{"type": "click", "id": ids[1], "position": 1}]
    assert beacon(client, click).get_json()["counted"] == 1
    assert beacon(client, click).get_json() == {"counted": 0, "ignored": 1}  # within a minute
    assert beacon(client, click, "192.0.2.1").get_json()["counted"] == 1  # another reader
    for agent in (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
        "python-requests/2.32",
        "",
    ):
        answer = beacon(client, click, "192.0.2.50", **{"User-Agent": agent})
        assert answer.get_json() == {"counted": 0, "ignored": 1}, agent
    prefetch = beacon(client, click, "192.0.2.51", **{"Sec-Purpose": "prefetch"})
    assert prefetch.get_json()["counted"] == 0
    # one client's flood: counted up to its rate, the rest dropped
    flood = [
        {"type": "impression", "id": ids[n % 6], "position": p}
        for n in range(6)
        for p in range(1, 9)
    ]
    counted = 0
    for start in range(0, CLIENT_EVENTS_PER_MINUTE + 48, 48):
        batch = [{**e, "from": f"page-{start}-{n}"} for n, e in enumerate(flood)]
        counted += beacon(client, batch, "192.0.2.99").get_json()["counted"]
    assert counted == CLIENT_EVENTS_PER_MINUTE
    flush(app)
    assert popular(client)[0][:2] == (ids[1], 2)  # two readers clicked; the bots did not


def test_a_flood_of_new_clients_stays_within_the_bounds(app, monkeypatch) -> None:
    """Past REMEMBERED_MAX clients in one minute the oldest are forgotten in one step down to
    3/4 of the bound: memory stays bounded and the table is not copied on every beacon."""
    monkeypatch.setattr(events, "REMEMBERED_MAX", 100)
    tally, store = events.Tally(), app.extensions["quantam"].store
    event = events.Event(type="impression", id=app.config["ids"][0])
    copies, table = 0, tally._rates  # held, so a new table cannot reuse the old one's address
    for n in range(1_000):
        assert tally.count(n.to_bytes(4, "big"), [event], store, utcnow()) == 1
        assert len(tally._rates) <= 100 and len(tally._seen) <= 100
        if tally._rates is not table:
            copies, table = copies + 1, tally._rates
    assert copies <= 1_000 // 25  # one copy per 25 new clients, not one per beacon
    assert n.to_bytes(4, "big") in tally._rates  # the newest client's rate is kept


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (b"{not json", "text/plain", 400, "body"),
        (b'{"events": []}', "text/plain", 400, "events: List should have at least 1 item"),
        (b'{"events": [{"type": "view", "id": "a"}]}', "text/plain", 400, "events.0.type"),
        (b'{"events": [{"type": "click", "id": ""}]}', "application/json", 400, "events.0.id"),
        (
            b'{"events": [{"type": "click", "id": "a", "position": 0}]}',
            "text/plain",
            400,
            "position",
        ),
        (b'{"events": [{"type": "click", "id": "a", "who": 1}]}', "text/plain", 400, "who"),
        (b'{"events": {"type": "click"}}', "text/plain", 400, "events"),
        (
            json.dumps({"events": [{"type": "click", "id": "a"}] * (MAX_EVENTS + 1)}).encode(),
            "text/plain",
            400,
            f"at most {MAX_EVENTS}",
        ),
        (
            b'{"events": [{"type": "click", "id": "a"}]}',
            "application/x-www-form-urlencoded",
            415,
            "text/plain",
        ),
        (b" " * (MAX_BODY + 1), "text/plain", 413, str(MAX_BODY)),
    ],
)
def test_bad_beacons_get_a_clear_400(client, body, content_type, status, detail) -> None:
    answer = client.post(
        "/api/events", data=body, headers={"User-Agent": BROWSER, "Content-Type": content_type}
    )
    assert answer.status_code == status, answer.get_data(as_text=True)
    problem = answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert detail in problem["detail"], problem


def test_popular_parameters_are_checked(client) -> None:
    assert client.get("/api/categories/nope/popular").status_code == 404
    for window in ("0h", "31d", "24", "1w", "h", "721h"):
        answer = client.get(f"/api/categories/the-thao/popular?window={window}")
        assert answer.status_code == 400 and "window" in answer.get_json()["detail"], window
    assert client.get("/api/categories/the-thao/popular?k=51").status_code == 400
    body = client.get("/api/categories/the-thao/popular?window=7d").get_json()
    assert body["window"] == "7d" and body["items"] == []
    assert body["category"]["slug"] == "the-thao"


def test_popular_feeds_list_the_most_read_first(app, client) -> None:
    ids = app.config["ids"]
    beacon(client, [{"type": "click", "id": ids[1]}, {"type": "click", "id": ids[4]}])
    beacon(client, [{"type": "click", "id": ids[4]}], "192.0.2.8")
    flush(app)
    feed = client.get("/feeds/the-thao/popular.json").get_json()
    expected = app.extensions["quantam"].store.get_articles([ids[4], ids[1]])
    assert [i["url"] for i in feed["items"]] == [a.url for a in expected]
    assert feed["feed_url"] == "https://news.example.vn/feeds/the-thao/popular.json"
    assert "Đọc nhiều" in feed["title"]
    rss = client.get("/feeds/the-thao/popular.rss")
    assert rss.status_code == 200 and rss.mimetype == "application/rss+xml"
    assert client.get("/feeds/all/popular.atom").status_code == 200
    assert client.get("/feeds/the-thao/popular.xml").status_code == 404
    assert client.get("/feeds/nope/popular.rss").status_code == 404


def test_short_related_lists_fill_with_the_most_read_before_the_latest(app, client) -> None:
    ids = app.config["ids"]
    beacon(client, [{"type": "click", "id": ids[1]}, {"type": "impression", "id": ids[2]}])
    flush(app)
    items = client.get(f"/api/articles/{ids[0]}/related?k=4").get_json()["items"]
    assert [i["id"] for i in items][:2] == [ids[1], ids[2]]  # most read, then the newest
    assert [i["id"] for i in items][2:] == [ids[5], ids[4]]
    assert all(i["fill"] for i in items)


def test_click_through_rate_by_position_in_metrics(app, client) -> None:
    ids = app.config["ids"]
    events = [{"type": "impression", "id": ids[n], "position": n} for n in (1, 2)]
    beacon(client, [*events, {"type": "click", "id": ids[1], "position": 1}], "192.0.2.77")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'quantam_box_events_total{position="1",type="click"}' in text
    assert 'quantam_box_events_total{position="2",type="impression"}' in text
    rates = {
        line.split('"')[1]: float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("quantam_box_click_through_rate{")
    }
    assert 0 < rates["1"] <= 1 and "2" in rates
