"""POST /api/events: the box's impressions and clicks, counted per article per hour ("Đọc nhiều").

Private by construction: no cookie is read or set, and nothing about the reader is stored. A
client is known only by a keyed hash of its address and user agent, under a random salt that
lives in this process's memory and is replaced every day, and only for as long as it takes to
drop repeats (the same event within a minute) and floods (a rate per client). Known bots and
prefetches are not counted. What reaches the store is counts per article per hour, written
every few seconds rather than once per beacon (docs/embed.md).
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.http.caching import response_with
from service.http.contract.models import Problem as Problem_
from service.http.contract.operations import Reply, operation
from service.http.errors import PROBLEM_JSON, Problem
from store.base import Store
from store.errors import StoreUnavailable
from store.models import EventCount, hour_of, utcnow

bp = Blueprint("events", __name__)
log = logging.getLogger(__name__)

# A box of 20 items reports 20 impressions in ~1.2 KB. The cap is what the largest valid body
# can take (50 events, two 64-character ids each, every character JSON-escaped as a surrogate
# pair: ~80 KB), so a valid body is never refused for its size.
MAX_BODY = 128 * 1024
MAX_EVENTS = 50
MAX_ID_LENGTH = 64
MAX_POSITION = 50
REPEAT_SECONDS = 60
CLIENT_EVENTS_PER_MINUTE = 120
# Clients and (client, event) pairs remembered at once: ~100 bytes each, so ~20 MB at most.
REMEMBERED_MAX = 100_000
SALT_SECONDS = 24 * 3600
FLUSH_SECONDS = 2.0
# Or sooner, once this many (article, hour) counters wait (~150 bytes each, ~1.5 MB): a beacon
# over a thousand articles a second at 1,000 would write a transaction every ~0.2 s per worker.
FLUSH_PENDING = 10_000
# Pending (article, hour) counters past which a store that keeps failing loses the oldest.
PENDING_MAX = 50_000
# Article ids this process has seen in the store, so that a beacon about them reads nothing:
# ~100 bytes each, ~5 MB. An id taken down after it was remembered may still be counted; the
# most-read lists join the counts with the stored articles, so it is never shown.
KNOWN_MAX = 50_000
CONTENT_TYPES = ("text/plain", "application/json")
# User agents that are not a person reading: crawlers, monitors, link previews, headless
# browsers and HTTP libraries. A request without a user agent is not counted either. Matched
# against the lowercased agent: with re.IGNORECASE the search cost 20 µs a beacon, 1.7 µs so.
BOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|lighthouse|pagespeed|preview|monitor|"
    r"facebookexternalhit|embedly|python-|python/|curl/|wget/|go-http|java/|okhttp|axios|"
    r"node-fetch|libwww|httpclient|phantomjs|scrapy"
)

BOX_EVENTS = Counter(
    "quantam_box_events_total",
    "Box impressions and clicks counted, by the item's position in its list (1 = top)",
    ["type", "position"],
)


class Event(BaseModel):
    """One thing a reader did with the box: saw an item (`impression`) or followed it."""

    # Ids are seldom the same twice in a row: caching parsed strings costs more than it saves.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, cache_strings="keys")

    type: Literal["impression", "click"]
    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, description="the item's article id")
    from_: str | None = Field(
        None,
        alias="from",
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="the article of the page the box is on, when quantam knows it",
    )
    position: int | None = Field(
        None, ge=1, le=MAX_POSITION, description="the item's place in its list, 1 = top"
    )


class EventBatch(BaseModel):
    """The body of POST /api/events (sent as text/plain by navigator.sendBeacon)."""

    model_config = ConfigDict(extra="forbid", cache_strings="keys")

    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsAccepted(BaseModel):
    """The answer (202): how many of the events were counted; the rest were repeats, from a bot,
    over the client's rate, or about articles quantam does not know."""

    counted: int
    ignored: int


class Tally:
    """What this process remembers between beacons: the daily salt, recent (client, event)
    pairs, per-client rates, and counts not yet written to the store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._salt = secrets.token_bytes(16)
        self._salt_until = time.monotonic() + SALT_SECONDS
        self._seen: OrderedDict[tuple[bytes, str, str, str], float] = OrderedDict()
        self._rates: dict[bytes, tuple[int, int]] = {}
        self._pending: dict[tuple[str, datetime], list[int]] = {}
        # (type, position) -> events since the last publish, labelled then
        self._positions: dict[tuple[str, int | None], int] = {}
        self._known: OrderedDict[str, None] = OrderedDict()
        self._flushed = time.monotonic()

    def client(self, address: str, agent: str) -> bytes:
        with self._lock:
            if time.monotonic() >= self._salt_until:  # forget yesterday's clients entirely
                self._salt = secrets.token_bytes(16)
                self._salt_until = time.monotonic() + SALT_SECONDS
                self._seen.clear()
                self._rates.clear()
            salt = self._salt
        # keyed BLAKE2 is a MAC of its own: a third of HMAC-SHA256's cost
        return hashlib.blake2b(f"{address}\n{agent}".encode(), key=salt, digest_size=16).digest()

    def count(self, client: bytes, events: list[Event], store: Store, moment: datetime) -> int:
        """Count one beacon's events: those not a repeat within REPEAT_SECONDS, within the
        client's rate, about stories quantam knows. How many were counted. One pass under the
        lock when every story is remembered (the usual case: a beacon is about the stories of
        a box just served); the store is asked, outside the lock, only about the rest."""
        hour = hour_of(moment)
        with self._lock:
            admitted = self._admit(client, events)
            missing = {e.id for e in admitted if e.id not in self._known}
            if not missing:
                self._add(admitted, hour)
                return len(admitted)
        found = {t.id for t in store.get_teasers(missing)}
        counted = [e for e in admitted if e.id not in missing or e.id in found]
        with self._lock:
            for article_id in found:
                self._known[article_id] = None
            while len(self._known) > KNOWN_MAX:
                self._known.popitem(last=False)
            self._add(counted, hour)
        return len(counted)

    def _admit(self, client: bytes, events: list[Event]) -> list[Event]:
        """Not a repeat, within the rate (the lock held)."""
        now = time.monotonic()
        minute = int(now // 60)
        expires = now + REPEAT_SECONDS
        out: list[Event] = []
        seen = self._seen
        while seen and next(iter(seen.values())) <= now:
            seen.popitem(last=False)
        window, used = self._rates.get(client, (minute, 0))
        if window != minute:
            used = 0
        for event in events:
            key = (client, event.type, event.id, event.from_ or "")
            if key in seen:
                continue
            if used >= CLIENT_EVENTS_PER_MINUTE:
                break
            used += 1
            seen[key] = expires
            out.append(event)
        if out:
            self._rates[client] = (minute, used)
        while len(seen) > REMEMBERED_MAX:
            seen.popitem(last=False)
        if len(self._rates) > REMEMBERED_MAX:
            self._trim_rates(minute)
        return out

    def _trim_rates(self, minute: int) -> None:
        """Forget past minutes' rates; under a flood of new clients within one minute, also
        the clients first seen earliest, down to 3/4 of the bound so that the copy is rare
        (without that, every beacon past the bound copied 100,000 entries)."""
        rates = {c: r for c, r in self._rates.items() if r[0] == minute}
        keep = REMEMBERED_MAX * 3 // 4
        if len(rates) > keep:
            rates = dict(itertools.islice(rates.items(), len(rates) - keep, None))
        self._rates = rates

    def _add(self, events: list[Event], hour: datetime) -> None:
        """Into the pending counters (the lock held)."""
        pending, positions = self._pending, self._positions
        for event in events:
            key = (event.id, hour)
            pair = pending.get(key)
            if pair is None:
                pending[key] = pair = [0, 0]
            if event.type == "click":
                pair[1] += 1
            else:
                pair[0] += 1
            place = (event.type, event.position)
            positions[place] = positions.get(place, 0) + 1

    def publish(self) -> None:
        """Add the counts by list position to /metrics: once per flush rather than per event
        (a counter in gunicorn's shared files cost ~8 µs an increment, six a beacon)."""
        with self._lock:
            positions, self._positions = self._positions, {}
        labelled: dict[tuple[str, str], int] = {}
        for (kind, position), n in positions.items():
            place = (kind, _position_label(position))
            labelled[place] = labelled.get(place, 0) + n
        for (kind, label), n in labelled.items():
            BOX_EVENTS.labels(kind, label).inc(n)

    def due(self) -> bool:
        return (
            time.monotonic() - self._flushed >= FLUSH_SECONDS or len(self._pending) > FLUSH_PENDING
        )

    def flush(self, store: Store) -> None:
        """Write the pending counts; kept for the next flush if the store is away."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        self.publish()
        if not pending:
            return
        counts = [EventCount(a, h, impressions=i, clicks=c) for (a, h), (i, c) in pending.items()]
        try:
            store.add_event_counts(counts)
        except StoreUnavailable as exc:
            log.warning("popularity counts kept for later, the store is away: %s", exc)
            with self._lock:
                for key, (i, c) in pending.items():
                    pair = self._pending.setdefault(key, [0, 0])
                    pair[0] += i
                    pair[1] += c
                while len(self._pending) > PENDING_MAX:
                    self._pending.pop(next(iter(self._pending)))


def is_bot(agent: str) -> bool:
    return not agent or BOTS.search(agent.lower()) is not None


def _prefetch(environ: dict[str, Any]) -> bool:
    purpose = environ.get("HTTP_SEC_PURPOSE", "") + environ.get("HTTP_PURPOSE", "")
    return "prefetch" in purpose or "preview" in purpose


def _read_body() -> bytes:
    # Read from the environ: werkzeug's parsed mimetype and content_length cost a beacon ~10 µs.
    mimetype = request.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if mimetype not in CONTENT_TYPES:
        raise Problem(
            415,
            "Unsupported media type",
            f"send JSON as text/plain or application/json, not {mimetype}",
        )
    # A declared length is read as it is (werkzeug's stream wrapper cost more than the read);
    # a chunked body (no length) through the wrapper, which stops where the server says.
    declared = request.environ.get("CONTENT_LENGTH", "")
    if declared.isdigit():
        length = int(declared)
        body = b"" if length > MAX_BODY else request.environ["wsgi.input"].read(length)
    else:
        body = request.stream.read(MAX_BODY + 1)
        length = len(body)
    if length > MAX_BODY:
        raise Problem(413, "Body too large", f"at most {MAX_BODY} bytes of events per request")
    return body


def parse_events(body: bytes) -> list[Event]:
    """The events of a body, or a 400 that names the first problem and where it is."""
    try:
        return EventBatch.model_validate_json(body).events
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Problem(
            400, "Bad events", f"{where}: {first['msg']}", errors=exc.error_count()
        ) from None


CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


@bp.route("/api/events", methods=["OPTIONS"])
def events_preflight() -> Response:
    """A page that posts with fetch() and application/json asks first."""
    return Response(status=204, headers=PREFLIGHT)


@bp.post("/api/events")
@operation(
    tag="embed",
    summary="The box's impressions and clicks (navigator.sendBeacon)",
    description="Sent as `text/plain` by sendBeacon (no CORS preflight) or as `application/json`. "
    "No cookies; neither the address nor the user agent is stored; the same event from the same "
    f"client within a minute, known bots, prefetches, more than {CLIENT_EVENTS_PER_MINUTE} "
    "events a minute from one client and unknown articles are not counted. At most "
    f"{MAX_EVENTS} events and {MAX_BODY} bytes.",
    body=EventBatch,
    answers={
        202: Reply("Taken: how many were counted.", EventsAccepted),
        400: "BadBody",
        413: Reply(f"The body is larger than {MAX_BODY} bytes.", Problem_, PROBLEM_JSON),
        415: Reply("The body is not `text/plain` or `application/json`.", Problem_, PROBLEM_JSON),
        503: "StoreUnavailable",
    },
)
def post_events() -> Response:
    events = parse_events(_read_body())
    tally: Tally = current_app.extensions["quantam.events"]
    environ = request.environ
    agent = environ.get("HTTP_USER_AGENT", "")
    counted = 0
    if not is_bot(agent) and not _prefetch(environ):
        store = current_app.extensions["quantam"].store
        client = tally.client(environ.get("REMOTE_ADDR", ""), agent)
        counted = tally.count(client, events, store, utcnow())
        if tally.due():
            tally.flush(store)
    body = EventsAccepted(counted=counted, ignored=len(events) - counted)
    return response_with(body.model_dump_json(), 202, "application/json", CORS)


def _position_label(position: int | None) -> str:
    if position is None:
        return "none"
    return str(position) if position <= 20 else "21+"


class ClickThrough:
    """quantam_box_click_through_rate{position}: clicks / impressions by list position, from this
    process's counters (with several gunicorn workers, divide the summed counters in PromQL).

    Registered before the counters it reads, it first publishes this process's counts since its
    last flush; other workers' show at their next flush (every FLUSH_SECONDS while beacons come).
    """

    def __init__(self, tally: Tally):
        self.tally = tally

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self.tally.publish()
        totals: dict[str, list[float]] = {}
        for metric in BOX_EVENTS.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    pair = totals.setdefault(sample.labels["position"], [0.0, 0.0])
                    pair[sample.labels["type"] == "click"] += sample.value
        rate = GaugeMetricFamily(
            "quantam_box_click_through_rate",
            "Box clicks per impression, by the item's position in its list",
            labels=["position"],
        )
        for position, (impressions, clicks) in sorted(totals.items()):
            if impressions:
                rate.add_metric([position], clicks / impressions)
        yield rate


def install(app: Flask, registry: CollectorRegistry, multiprocess: bool) -> None:
    """The tally of this process (flushed at exit too), and the box's figures in /metrics."""
    tally = Tally()
    app.extensions["quantam.events"] = tally
    store = app.extensions["quantam"].store
    atexit.register(lambda: _flush_quietly(tally, store))
    registry.register(ClickThrough(tally))
    if not multiprocess:
        registry.register(BOX_EVENTS)


def _flush_quietly(tally: Tally, store: Any) -> None:
    try:
        tally.flush(store)
    except Exception as exc:  # at exit: say so, never raise
        log.warning("popularity counts lost at exit: %s", exc)
