"""The WebSub subscriber against a real hub on loopback (tests/support/websubhub.py): quantam's
app served over real HTTP for the hub's callbacks, a real SQLite file, a loopback feed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from service.config import load_settings
from service.core import Quantam
from service.http.app import create_app
from store.models import Source, utcnow
from tests.support.cli import quantam as quantam_cli
from tests.support.feedserver import FeedServer, Reply
from tests.support.newssite import BUS, FOOTBALL, GOLD, NewsSite, Page
from tests.support.websubhub import WebSubHub

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Running:
    quantam: Quantam
    base: str
    site: NewsSite
    feed_url: str


@pytest.fixture
def hub() -> Iterator[WebSubHub]:
    hub = WebSubHub()
    yield hub
    hub.stop()


def serve(tmp_path: Path, **settings: Any) -> Iterator[tuple[Quantam, str]]:
    """quantam's app on a real loopback server; its base URL is where hubs call back."""
    target: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: target["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    config = load_settings(
        environ={},
        store=f"sqlite:///{tmp_path / 'q.db'}",
        base_url=base,
        api_token=TOKEN,
        poll_host_delay=0,
        full_text_per_poll=0,
        **{"allow_private_fetch": True, **settings},
    )
    quantam = Quantam(config)
    target["app"] = create_app(quantam=quantam)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield quantam, base
    finally:
        server.shutdown()
        quantam.close()


@pytest.fixture
def running(tmp_path: Path, feed_server: FeedServer, hub: WebSubHub) -> Iterator[Running]:
    site = NewsSite(feed_server)
    urls = [site.page(Page("xe-buyt", "Xe buýt điện", BUS, summary="Xe buýt điện."))]
    feed_url = site.feed("/rss", urls, hub=hub.url)
    for quantam, base in serve(tmp_path):
        yield Running(quantam, base, site, feed_url)


def subscribed(running: Running, hub: WebSubHub) -> Source:
    quantam = running.quantam
    source = quantam.ingestor.add_source(running.feed_url, "thoi-su")
    report = quantam.ingestor.poll_source(source)
    assert report.ok and len(report.new) == 1
    hub.wait_for_verifications(1)
    return source


def test_a_feed_naming_a_hub_is_subscribed_and_verified(
    running: Running, hub: WebSubHub, tmp_path: Path
) -> None:
    source = subscribed(running, hub)
    (request,) = hub.requests
    assert request["hub.mode"] == "subscribe" and request["hub.topic"] == running.feed_url
    assert request["hub.callback"].startswith(running.base + "/websub/callback/")
    assert len(request["hub.secret"]) == 64 and request["hub.lease_seconds"] == "864000"
    (verification,) = hub.verifications
    assert verification.status == 200 and verification.echoed
    sub = running.quantam.websub.get(source.id)
    assert sub.state == "subscribed" and sub.requested is None
    assert timedelta(days=9) < sub.lease_until - utcnow() <= timedelta(days=10)
    # the API shows it, never the token or the secret
    listed = httpx.get(running.base + "/api/sources", headers=AUTH).json()["sources"][0]
    assert listed["websub"]["state"] == "subscribed" and listed["websub"]["hub"] == hub.url
    assert sub.secret not in str(listed) and sub.token not in str(listed)
    listing = quantam_cli(tmp_path / "q.db", "sources", "list").stdout
    assert f"websub: subscribed at {hub.url}, lease ends in 9 d" in listing
    assert sub.secret not in listing and sub.token not in listing
    # while pushed, the source is polled as a fallback, every QUANTAM_WEBSUB_POLL_INTERVAL
    running.quantam.ingestor.poll_source(running.quantam.store.get_source(source.id))
    polled = running.quantam.store.get_source(source.id)
    assert polled.interval == 21600 and len(hub.requests) == 1  # no second subscription


def test_a_signed_delivery_is_stored_and_a_bad_or_missing_signature_is_refused(
    running: Running, hub: WebSubHub
) -> None:
    source = subscribed(running, hub)
    store = running.quantam.store
    site = running.site
    gold = site.page(Page("gia-vang", "Giá vàng vượt 90 triệu", GOLD, summary="Giá vàng."))
    football = site.page(Page("bong-da", "Tuyển Việt Nam thắng", FOOTBALL, summary="Bóng đá."))
    forged = site.feed_bytes([football])
    assert hub.publish(running.feed_url, forged, secret="not-the-secret") == [403]
    assert hub.publish(running.feed_url, forged, signed=False) == [403]
    assert hub.publish(running.feed_url, forged, method="md5") == [403]
    assert store.count_articles() == 1 and store.article_id_at(football) is None
    before = store.get_source(source.id)
    assert hub.publish(running.feed_url, site.feed_bytes([gold])) == [202]
    stored = store.get_article(store.article_id_at(gold))
    assert stored.source_id == source.id and stored.fulltext.status == "pending"
    # the source falls due: the next poll round reads the new article's page
    after = store.get_source(source.id)
    assert after.next_due_at <= utcnow() < before.next_due_at
    for method in ("sha1", "sha384", "sha512"):
        assert hub.publish(running.feed_url, site.feed_bytes([football]), method=method) == [202]
    assert store.count_articles() == 3


def test_the_lease_is_renewed_before_it_ends(
    tmp_path: Path, feed_server: FeedServer, hub: WebSubHub
) -> None:
    hub.max_lease = 4
    site = NewsSite(feed_server)
    feed_url = site.feed("/rss", [site.page(Page("a", "A", BUS, summary="A."))], hub=hub.url)
    for quantam, _ in serve(tmp_path):
        source = quantam.ingestor.add_source(feed_url, "thoi-su")
        quantam.ingestor.poll_source(source)
        hub.wait_for_verifications(1)
        first = quantam.websub.get(source.id)
        assert first.state == "subscribed" and first.lease_seconds == 4
        # the next poll is due when a fifth of the lease is left, not at the 6-hour fallback
        due = quantam.store.get_source(source.id).next_due_at
        assert due <= first.lease_until - timedelta(seconds=0.8)
        time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.05)
        quantam.ingestor.poll_source(quantam.store.get_source(source.id))
        assert [r["hub.mode"] for r in hub.requests] == ["subscribe", "subscribe"]
        assert hub.requests[1]["hub.callback"] == hub.requests[0]["hub.callback"]
        hub.wait_for_verifications(2)
        renewed = quantam.websub.get(source.id)
        assert renewed.state == "subscribed" and renewed.lease_until > first.lease_until


def test_removing_the_source_unsubscribes_and_later_deliveries_are_gone(
    running: Running, hub: WebSubHub
) -> None:
    source = subscribed(running, hub)
    callback = hub.requests[0]["hub.callback"]
    removed = httpx.delete(f"{running.base}/api/sources/{source.id}", headers=AUTH)
    assert removed.status_code == 204
    assert hub.requests[-1]["hub.mode"] == "unsubscribe"
    assert hub.requests[-1]["hub.callback"] == callback
    (_, verification) = hub.wait_for_verifications(2)
    assert verification.mode == "unsubscribe" and verification.echoed
    assert hub.subscriptions == {}
    assert running.quantam.websub.get(source.id).state == "unsubscribed"
    late = httpx.post(callback, content=b"<rss/>", headers={"X-Hub-Signature": "sha256=00"})
    assert late.status_code == 410


def test_only_a_pending_request_of_that_topic_is_confirmed(
    running: Running, hub: WebSubHub
) -> None:
    source = subscribed(running, hub)
    callback = hub.requests[0]["hub.callback"]

    def verify(**params: str) -> httpx.Response:
        query = {"hub.topic": running.feed_url, "hub.challenge": "xyz", **params}
        return httpx.get(callback, params=query)

    assert verify(**{"hub.mode": "subscribe"}).status_code == 404  # verified already
    assert verify(**{"hub.mode": "unsubscribe"}).status_code == 404  # never asked
    wrong_topic = verify(**{"hub.mode": "subscribe", "hub.topic": running.feed_url + "?x"})
    assert wrong_topic.status_code == 404
    unknown = httpx.get(running.base + "/websub/callback/nope", params={"hub.mode": "subscribe"})
    assert unknown.status_code == 404
    assert hub.deny(running.feed_url, "quá nhiều đăng ký") == [200]
    sub = running.quantam.websub.get(source.id)
    assert sub.state == "denied" and sub.error == "quá nhiều đăng ký"
    assert hub.publish(running.feed_url, b"<rss/>") == [410]


def test_a_hub_that_refuses_or_is_private_is_recorded_and_polling_goes_on(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    site = NewsSite(feed_server)
    page = site.page(Page("a", "A", BUS, summary="A."))
    broken = feed_server.route(
        "/hub", Reply(status=500, body=b"hub down", content_type="text/plain")
    )
    feed_url = site.feed("/rss", [page], hub=broken)
    private = feed_server.url("/rss-private")
    feed_server.route(
        "/rss-private", Reply(body=site.feed_bytes([page], hub="http://10.9.9.9/hub"))
    )
    for quantam, _ in serve(
        tmp_path, allow_private_fetch=False, fetch_allow_networks="127.0.0.1/32"
    ):
        source = quantam.ingestor.add_source(feed_url, "thoi-su")
        assert quantam.ingestor.poll_source(source).ok
        sub = quantam.websub.get(source.id)
        assert sub.state == "failed" and "answered HTTP 500: hub down" in sub.error
        assert quantam.store.get_source(source.id).interval == 900  # polled as usual
        other = quantam.ingestor.add_source(private, "thoi-su")
        assert quantam.ingestor.poll_source(other).ok
        refused = quantam.websub.get(other.id)
        assert refused.state == "failed" and "non-public address 10.9.9.9" in refused.error
