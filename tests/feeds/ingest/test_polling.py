"""Polling sources end to end: real loopback HTTP, real SQLite file, the ingestor's decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from feeds.ingest.fetch import Fetcher, FetchLimits
from feeds.ingest.pipeline import Ingestor
from feeds.ingest.poll import Poller
from feeds.ingest.schedule import ScheduleSettings
from store.models import Source
from store.sqlite import SQLiteStore
from tests.support.env import fixture_bytes
from tests.support.feedbuilder import rss, story
from tests.support.feedserver import FeedServer, Reply

START = datetime(2024, 5, 22, 10, 0, tzinfo=UTC)  # a Wednesday
SCHEDULE = ScheduleSettings(
    default_interval=900,
    min_interval=300,
    max_interval=86400,
    backoff_base=300,
    backoff_max=3600,
    jitter=0.0,
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ingestor(sqlite_store: SQLiteStore, clock: Clock):
    fetcher = Fetcher(
        FetchLimits(allow_private=True, read_timeout=0.5, total_timeout=2, max_bytes=256 * 1024)
    )
    yield Ingestor(sqlite_store, fetcher, SCHEDULE, clock=clock, rng=random.Random(1))
    fetcher.close()


def add(ingestor: Ingestor, url: str, category: str = "the-thao") -> Source:
    return ingestor.add_source(url, category, category_name="Thể thao")


def poll(ingestor: Ingestor, source_id: int):
    return ingestor.poll_source(ingestor.store.get_source(source_id))


def test_first_poll_stores_articles_and_schedules_by_ttl(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    src = add(ingestor, feed_server.route("/rss", Reply(body=fixture_bytes("the-thao.rss"))))
    report = poll(ingestor, src.id)
    assert report.ok and len(report.new) == 3
    stored = ingestor.store.get_source(src.id)
    assert stored.last_status == 200 and stored.error_count == 0 and stored.last_error is None
    assert stored.interval == 30 * 60  # the feed's <ttl>30</ttl>
    assert stored.next_due_at == START + timedelta(minutes=30)
    assert stored.skip_hours == (1, 2, 3) and stored.skip_days == ("Sunday",)
    assert ingestor.store.count_articles("the-thao") == 3
    assert ingestor.store.count_articles_by_source() == {src.id: 3}


def test_304_costs_no_parsing_and_no_article_writes(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    url = feed_server.route(
        "/rss",
        Reply(
            body=fixture_bytes("the-thao.rss"),
            etag='"abc"',
            headers={"Cache-Control": "max-age=1200"},
        ),
    )
    src = add(ingestor, url)
    poll(ingestor, src.id)
    seq = ingestor.store.last_seq()
    clock.advance(minutes=30)
    report = poll(ingestor, src.id)
    assert report.not_modified and report.http_status == 304 and report.new == []
    assert ingestor.store.last_seq() == seq
    assert feed_server.requests_to("/rss")[-1].headers["if-none-match"] == '"abc"'
    stored = ingestor.store.get_source(src.id)
    assert stored.etag == '"abc"' and stored.last_status == 304
    # the feed's ttl (30 min) still governs: a 304 means the feed did not change
    assert stored.next_due_at == clock.now + timedelta(minutes=30)


def test_cache_control_sets_the_interval_within_bounds(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    body = rss([story(1)])
    fast = add(
        ingestor,
        feed_server.route("/fast", Reply(body=body, headers={"Cache-Control": "max-age=10"})),
    )
    slow = add(
        ingestor,
        feed_server.route("/slow", Reply(body=body, headers={"Cache-Control": "max-age=999999"})),
    )
    poll(ingestor, fast.id)
    poll(ingestor, slow.id)
    assert ingestor.store.get_source(fast.id).interval == 300  # raised to the minimum
    assert ingestor.store.get_source(slow.id).interval == 86400  # capped at the maximum


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_updates_the_stored_url(
    feed_server: FeedServer, ingestor: Ingestor, status: int
) -> None:
    new = feed_server.route("/new.rss", Reply(body=rss([story(1)])))
    src = add(
        ingestor,
        feed_server.route("/old.rss", Reply(status=status, headers={"Location": "/new.rss"})),
    )
    assert poll(ingestor, src.id).ok
    assert ingestor.store.get_source(src.id).url == new


def test_temporary_redirect_keeps_the_url(feed_server: FeedServer, ingestor: Ingestor) -> None:
    feed_server.route("/new.rss", Reply(body=rss([story(1)])))
    old = feed_server.route("/old.rss", Reply(status=302, headers={"Location": "/new.rss"}))
    src = add(ingestor, old)
    poll(ingestor, src.id)
    assert ingestor.store.get_source(src.id).url == old


def test_410_disables_the_source_with_a_reason(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    src = add(ingestor, feed_server.route("/gone", Reply(status=410)))
    report = poll(ingestor, src.id)
    assert "410 Gone" in report.error
    stored = ingestor.store.get_source(src.id)
    assert not stored.enabled and "410 Gone" in stored.disabled_reason
    clock.advance(days=30)
    assert Poller(ingestor).poll_once() == []  # a disabled source is never polled
    assert Poller(ingestor).poll_once(force=True) == []


def test_500_backs_off_exponentially_then_recovers(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    url = feed_server.route(
        "/flaky",
        Reply(status=500),
        Reply(status=500),
        Reply(status=500),
        Reply(body=rss([story(1)])),
    )
    src = add(ingestor, url)
    delays = []
    for _ in range(3):
        report = poll(ingestor, src.id)
        assert "500 Internal Server Error" in report.error
        stored = ingestor.store.get_source(src.id)
        delays.append((stored.next_due_at - clock.now).total_seconds())
        clock.now = stored.next_due_at
    assert delays == [300, 600, 1200]
    assert ingestor.store.get_source(src.id).error_count == 3
    failed = ingestor.store.get_source(src.id).failed_days
    assert sum(n for _, n in failed) == 3  # counted per day, for the console's 14-day chart
    report = poll(ingestor, src.id)
    assert report.ok and len(report.new) == 1
    stored = ingestor.store.get_source(src.id)
    assert stored.error_count == 0 and stored.last_error is None and stored.last_status == 200
    assert stored.failed_days == failed  # a success ends the streak, not the history


def test_failed_days_count_per_utc_day_and_keep_fourteen() -> None:
    source = Source(url="https://a.example/rss", category="x")
    start = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    for hours in (0, 0.25, 1, 24 * 20):  # two on May 1st, one on the 2nd, one 20 days later
        source = source.with_failure(start + timedelta(hours=hours))
    assert source.failed_days == (("2024-05-21", 1),)
    source = Source(url="https://a.example/rss", category="x")
    for hours in (0, 0.25, 1):
        source = source.with_failure(start + timedelta(hours=hours))
    assert source.failed_days == (("2024-05-01", 2), ("2024-05-02", 1))
    assert source.failures_on(start.date()) == 2


def test_backoff_is_capped(feed_server: FeedServer, ingestor: Ingestor, clock: Clock) -> None:
    src = add(ingestor, feed_server.route("/down", Reply(status=502)))
    for _ in range(8):
        poll(ingestor, src.id)
    stored = ingestor.store.get_source(src.id)
    assert (stored.next_due_at - clock.now).total_seconds() == SCHEDULE.backoff_max


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock, status: int
) -> None:
    src = add(
        ingestor, feed_server.route("/busy", Reply(status=status, headers={"Retry-After": "7200"}))
    )
    report = poll(ingestor, src.id)
    assert "retrying after 7200 s" in report.error
    assert ingestor.store.get_source(src.id).next_due_at == clock.now + timedelta(seconds=7200)


def test_timeout_is_recorded_in_words(feed_server: FeedServer, ingestor: Ingestor) -> None:
    src = add(ingestor, feed_server.route("/slow", Reply(body=rss([story(1)]), delay=2)))
    report = poll(ingestor, src.id)
    assert "timed out reading" in report.error
    assert "timed out" in ingestor.store.get_source(src.id).last_error


def test_oversized_body_is_an_error_and_nothing_is_lost(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    url = feed_server.route(
        "/rss",
        Reply(body=rss([story(1), story(2)])),
        Reply(body=rss([story(n) for n in range(3000)])),
    )
    src = add(ingestor, url)
    poll(ingestor, src.id)
    clock.advance(hours=1)
    report = poll(ingestor, src.id)
    assert "larger than the 262,144-byte limit" in report.error
    assert ingestor.store.count_articles() == 2


def test_html_instead_of_a_feed_stores_nothing_and_loses_nothing(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    url = feed_server.route(
        "/rss",
        Reply(body=rss([story(1)])),
        Reply(body=fixture_bytes("page.html"), content_type="text/html; charset=utf-8"),
    )
    src = add(ingestor, url)
    poll(ingestor, src.id)
    clock.advance(hours=1)
    report = poll(ingestor, src.id)
    assert "HTML page" in report.error and "text/html" in report.error
    assert ingestor.store.count_articles() == 1
    assert "HTML page" in ingestor.store.get_source(src.id).last_error


def test_malformed_xml_is_stored_with_a_warning(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    src = add(ingestor, feed_server.route("/rss", Reply(body=fixture_bytes("malformed.rss"))))
    report = poll(ingestor, src.id)
    assert report.ok and len(report.new) == 1
    assert "not well-formed" in ingestor.store.get_source(src.id).last_warning


def test_duplicate_and_updated_entries(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    v1 = rss([story(1), story(2), story(2)])  # the feed repeats an entry
    edited = story(2, description=story(2)["description"] + " Cập nhật: có thêm thông tin mới.")
    v2 = rss([story(3), story(1), edited])
    src = add(ingestor, feed_server.route("/rss", Reply(body=v1), Reply(body=v2)))
    first = poll(ingestor, src.id)
    assert len(first.new) == 2 and first.duplicates == 1
    original = ingestor.store.get_article(first.new[1])
    clock.advance(minutes=20)
    second = poll(ingestor, src.id)
    assert len(second.new) == 1 and second.updated == [original.id] and second.unchanged == 1
    assert ingestor.store.count_articles() == 3
    updated = ingestor.store.get_article(original.id)
    assert "Cập nhật" in updated.text
    assert updated.updated == clock.now and updated.first_seen == original.first_seen


def test_same_canonical_url_from_two_sources_is_one_article(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    a = add(ingestor, feed_server.route("/a", Reply(body=rss([story(1)]))))
    shared = story(1, link=story(1)["link"] + "?utm_source=partner", guid="partner-guid-77")
    b = add(ingestor, feed_server.route("/b", Reply(body=rss([shared]))), category="thoi-su")
    poll(ingestor, a.id)
    report = poll(ingestor, b.id)
    assert report.new == [] and report.duplicates == 1
    assert ingestor.store.count_articles() == 1


def test_same_body_under_two_urls_is_one_article(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    copy = story(1, link="https://mirror.example.vn/copy-of-1.html", guid="m-1")
    src = add(ingestor, feed_server.route("/rss", Reply(body=rss([story(1), copy]))))
    report = poll(ingestor, src.id)
    assert len(report.new) == 1 and report.duplicates == 1


def test_broken_guids_switch_the_source_to_links(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    items = [story(n, guid="same-guid-for-all") for n in range(10)]
    src = add(ingestor, feed_server.route("/rss", Reply(body=rss(items))))
    report = poll(ingestor, src.id)
    assert len(report.new) == 10  # nothing merged by the shared guid
    stored = ingestor.store.get_source(src.id)
    assert stored.id_policy == "link" and "identified by link" in stored.id_policy_reason
    clock.advance(hours=1)
    again = poll(ingestor, src.id)
    assert again.new == [] and again.unchanged == 10


def test_repeated_links_switch_to_link_date_title(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    items = [
        story(
            n, guid=None, link="https://bao.example.vn/live.html", pub=START - timedelta(minutes=n)
        )
        for n in range(6)
    ]
    src = add(ingestor, feed_server.route("/rss", Reply(body=rss(items))))
    report = poll(ingestor, src.id)
    assert ingestor.store.get_source(src.id).id_policy == "link_date_title"
    # one URL is one article: the live page's updates are merged, never duplicated
    assert len(report.new) == 1


def test_a_taken_down_article_is_not_brought_back(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    src = add(ingestor, feed_server.route("/rss", Reply(body=rss([story(1), story(2)]))))
    first = poll(ingestor, src.id)
    ingestor.store.delete_article(first.new[0])
    clock.advance(hours=1)
    again = poll(ingestor, src.id)
    assert again.new == [] and again.taken_down == 1
    assert ingestor.store.get_article(first.new[0]) is None


def test_source_removed_mid_poll_leaves_nothing(
    feed_server: FeedServer, ingestor: Ingestor
) -> None:
    src = add(ingestor, feed_server.route("/rss", Reply(body=rss([story(1), story(2)]))))
    ingestor.store.remove_source(src.id)
    report = ingestor.poll_source(src)
    assert "no source with id" in report.error
    assert ingestor.store.count_articles() == 0


def test_skip_hours_move_the_next_poll(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    clock.now = datetime(2024, 5, 22, 0, 50, tzinfo=UTC)
    body = rss([story(1)], ttl=15).replace(
        b"</channel>", b"<skipHours><hour>1</hour><hour>2</hour></skipHours></channel>"
    )
    src = add(ingestor, feed_server.route("/rss", Reply(body=body)))
    poll(ingestor, src.id)
    assert ingestor.store.get_source(src.id).next_due_at == datetime(2024, 5, 22, 3, 0, tzinfo=UTC)


def test_poller_polls_due_sources_once(
    feed_server: FeedServer, ingestor: Ingestor, clock: Clock
) -> None:
    for n in range(3):
        add(ingestor, feed_server.route(f"/f{n}", Reply(body=rss([story(n)]))))
    poller = Poller(ingestor, workers=2, host_delay=0)
    assert len(poller.poll_once()) == 3
    assert poller.poll_once() == []  # nothing is due yet
    assert len(poller.poll_once(force=True)) == 3
    clock.advance(hours=1)
    assert len(poller.poll_once()) == 3
    assert ingestor.store.count_articles() == 3
