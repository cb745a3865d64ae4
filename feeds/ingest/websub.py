"""WebSub subscriber (W3C Recommendation, 23 January 2018): a source whose feed names a hub is
pushed its new entries by the hub instead of waiting for its next poll.

(feeds/publish/websub.py is the other side: quantam's own feeds pinging a hub.)

* Discovery: the feed's Link headers first (rel="hub", rel="self"), then its <atom:link>
  elements; the subscription's topic is the feed's self URL (else the URL polled).
* Subscription: a form POST to the hub with `hub.callback` (QUANTAM_BASE_URL +
  `/websub/callback/<token>`, the token random and unguessable), `hub.topic`,
  `hub.lease_seconds` and `hub.secret` (random, 64 characters: under the spec's 200 bytes);
  the hub answers 202 (307/308 to another hub are followed, at most twice).
* Intent verification: the hub GETs the callback with `hub.mode`, `hub.topic` and
  `hub.challenge`; the challenge is echoed (200) only for a request of that mode and topic
  that is pending, anything else is 404. `hub.mode=denied` is recorded.
* Delivery: the hub POSTs the feed's new content. `X-Hub-Signature: <sha1|sha256|sha384|
  sha512>=<hex HMAC of the raw body with the secret>` is checked in constant time, the body
  under the write API's size cap: a missing or bad signature is 403 and nothing is stored.
  A good one is stored as a poll's feed would be (entries merged, never deleted) and the
  source falls due, so its pages are read by the next poll round, off the web path. A
  callback of a removed or cancelled subscription answers 410 (the hub drops it); an unknown
  one 404.
* Lease: renewed when a poll finds less than a fifth of it left (the next poll is scheduled by
  then); polling goes on as a fallback, at QUANTAM_WEBSUB_POLL_INTERVAL while subscribed.
* Removal: a removed source's subscription is cancelled (`hub.mode=unsubscribe`, verified
  the same way).

Subscriptions live in the store's named values (`websub:sub:<source id>`, the callback token
mapped by `websub:cb:<token>`), apart from the source's polling state: the hub's verification
arrives on a web worker while a poller may be saving the source.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from feeds.common.errors import FetchError
from feeds.common.netguard import USER_AGENT, AddressPolicy, GuardedTransport
from store.base import Store
from store.errors import SourceNotFound
from store.models import Source, parse_ts, ts, utcnow

log = logging.getLogger(__name__)

CALLBACK_PATH = "/websub/callback/"
STATES = ("pending", "subscribed", "denied", "failed", "unsubscribed")
SIGNATURE_HEADER = "X-Hub-Signature"
ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
ALGORITHMS |= {"sha384": hashlib.sha384, "sha512": hashlib.sha512}
# Renew when less than this share of the lease is left.
RENEW_SHARE = 0.2
# A subscription request the hub has not verified within this long is sent again at a poll.
PENDING_TIMEOUT = timedelta(hours=1)
MAX_HUB_REDIRECTS = 2


@dataclass(frozen=True)
class Subscription:
    source_id: int
    hub: str
    topic: str
    token: str
    secret: str
    state: str = "pending"
    # The request the hub is to verify: "subscribe" or "unsubscribe"; None when none is pending.
    requested: str | None = None
    requested_at: datetime | None = None
    lease_seconds: int | None = None
    lease_until: datetime | None = None
    error: str | None = None
    # The source was removed: deliveries are refused (410), an unsubscribe is verified.
    removed: bool = False

    @property
    def callback_path(self) -> str:
        return CALLBACK_PATH + self.token

    def to_json(self) -> bytes:
        d = asdict(self)
        d["requested_at"] = ts(self.requested_at)
        d["lease_until"] = ts(self.lease_until)
        return json.dumps(d).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Subscription:
        d = json.loads(raw)
        d["requested_at"] = parse_ts(d.get("requested_at"))
        d["lease_until"] = parse_ts(d.get("lease_until"))
        return cls(**d)


@dataclass(frozen=True)
class Answer:
    """What the callback endpoint answers the hub."""

    status: int
    body: str = ""
    # The source that a delivery was stored for (the caller ingests `body` bytes for it).
    source: Source | None = None


def discover(
    links: Iterable[tuple[str, str]], hubs: Iterable[str], self_url: str | None, polled: str
) -> tuple[str, str] | None:
    """(hub, topic) from a fetched feed: Link headers first, then the feed's own links."""
    header_hubs = [url for rel, url in links if rel == "hub"]
    header_self = [url for rel, url in links if rel == "self"]
    if header_hubs:
        return header_hubs[0], header_self[0] if len(header_self) == 1 else (self_url or polled)
    for hub in hubs:
        return urljoin(polled, hub), urljoin(polled, self_url) if self_url else polled
    return None


def signature_ok(secret: str, body: bytes, header: str | None) -> str | None:
    """None when `header` is a valid signature of `body`, else why not (for the log)."""
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    method, _, digest = header.strip().partition("=")
    algorithm = ALGORITHMS.get(method.strip().lower())
    if algorithm is None:
        return f"unknown signature method {method[:20]!r}"
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        return "the signature does not match the body"
    return None


class WebSubSubscriber:
    """Subscribes sources to their hubs, answers the hubs' callbacks, renews leases."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        policy: AddressPolicy | None = None,
        lease_seconds: int = 10 * 86400,
        poll_interval: int = 6 * 3600,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.clock = clock
        self._client = httpx.Client(
            transport=GuardedTransport(policy or AddressPolicy()),
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    # -- stored state -----------------------------------------------------------------------
    def get(self, source_id: int) -> Subscription | None:
        raw = self.store.get_meta(f"websub:sub:{source_id}")
        return Subscription.from_json(raw) if raw else None

    def _put(self, sub: Subscription) -> None:
        self.store.set_meta(f"websub:sub:{sub.source_id}", sub.to_json())

    def _by_token(self, token: str) -> Subscription | None:
        if not token or len(token) > 100:
            return None
        raw = self.store.get_meta(f"websub:cb:{token}")
        if not raw:
            return None
        sub = self.get(int(raw))
        # compare_digest: the token is the callback's secret, found by a key lookup above
        if sub is None or not hmac.compare_digest(sub.token, token):
            return None
        return sub

    # -- after a poll -------------------------------------------------------------------------
    def after_poll(self, source: Source, found: tuple[str, str] | None) -> Subscription | None:
        """Subscribe when the feed names a hub and the source is not subscribed to it (or the
        lease runs out soon, or a request went unanswered); never raises for the hub's
        problems, which are recorded on the subscription."""
        if source.id is None:
            return None
        sub = self.get(source.id)
        now = self.clock()
        if found is None:
            return sub  # a feed that stops naming its hub keeps its lease until it ends
        hub, topic = found
        if sub is not None and (sub.hub, sub.topic) == (hub, topic) and not self._due(sub, now):
            return sub
        return self.subscribe(source.id, hub, topic, sub)

    def _due(self, sub: Subscription, now: datetime) -> bool:
        if sub.state == "denied" or sub.removed:
            return False
        if sub.requested_at is not None and (sub.requested is not None or sub.state == "failed"):
            # a request the hub has not verified, or one it refused: again after a while
            return now - sub.requested_at > PENDING_TIMEOUT
        if sub.state == "subscribed" and sub.lease_until is not None:
            lease = sub.lease_seconds or self.lease_seconds
            return (sub.lease_until - now).total_seconds() < RENEW_SHARE * lease
        return True

    def renew_at(self, source_id: int) -> datetime | None:
        """When the lease should be renewed (the next poll must come by then)."""
        sub = self.get(source_id)
        if sub is None or sub.state != "subscribed" or sub.lease_until is None:
            return None
        lease = sub.lease_seconds or self.lease_seconds
        return sub.lease_until - timedelta(seconds=RENEW_SHARE * lease)

    def is_pushed(self, source_id: int) -> bool:
        """Whether the hub pushes this source now (subscribed, the lease running)."""
        sub = self.get(source_id)
        return (
            sub is not None
            and sub.state == "subscribed"
            and sub.lease_until is not None
            and sub.lease_until > self.clock()
        )

    def subscribe(
        self, source_id: int, hub: str, topic: str, previous: Subscription | None = None
    ) -> Subscription:
        """Ask the hub for a subscription (or its renewal); the hub verifies it at the callback."""
        sub = Subscription(
            source_id=source_id,
            hub=hub,
            topic=topic,
            token=previous.token if previous is not None else secrets.token_urlsafe(24),
            secret=previous.secret if previous is not None else secrets.token_hex(32),
            state=previous.state if previous is not None else "pending",
            requested="subscribe",
            requested_at=self.clock(),
            lease_seconds=previous.lease_seconds if previous is not None else None,
            lease_until=previous.lease_until if previous is not None else None,
        )
        # Stored before the request: the hub may verify before the POST returns.
        self._put(sub)
        self.store.set_meta(f"websub:cb:{sub.token}", str(source_id).encode())
        problem = self._request(sub, "subscribe")
        if problem is None:
            return sub
        failed = replace(
            self.get(source_id) or sub,
            state="failed" if sub.state != "subscribed" else sub.state,
            requested=None,
            error=problem,
        )
        self._put(failed)
        log.warning("WebSub subscription of source %s at %s failed: %s", source_id, hub, problem)
        return failed

    def unsubscribe(self, source_id: int) -> Subscription | None:
        """Cancel a removed source's subscription; deliveries are refused from now on."""
        sub = self.get(source_id)
        if sub is None or sub.removed:
            return sub
        sub = replace(sub, removed=True, requested="unsubscribe", requested_at=self.clock())
        self._put(sub)
        if sub.state in ("subscribed", "pending"):
            problem = self._request(sub, "unsubscribe")
            if problem is not None:
                sub = replace(sub, requested=None, error=problem)
                self._put(sub)
        return sub

    def _request(self, sub: Subscription, mode: str) -> str | None:
        """POST the request to the hub; None when it took it, else the problem in words."""
        form = {
            "hub.callback": self.base_url + sub.callback_path,
            "hub.mode": mode,
            "hub.topic": sub.topic,
        }
        if mode == "subscribe":
            form["hub.lease_seconds"] = str(self.lease_seconds)
            form["hub.secret"] = sub.secret
        hub = sub.hub
        for _ in range(MAX_HUB_REDIRECTS + 1):
            if urlsplit(hub).scheme.lower() not in ("http", "https"):
                return f"the hub {hub!r} is not an http(s) URL"
            try:
                response = self._client.post(hub, data=form)
            except (httpx.HTTPError, FetchError) as exc:
                return f"could not reach the hub {hub}: {exc}"
            if response.status_code in (307, 308) and "location" in response.headers:
                hub = urljoin(hub, response.headers["location"])
                continue
            if 200 <= response.status_code < 300:
                return None
            text = " ".join(response.text[:200].split())
            return f"the hub {hub} answered HTTP {response.status_code}" + (
                f": {text}" if text else ""
            )
        return f"the hub {sub.hub} redirected more than {MAX_HUB_REDIRECTS} times"

    # -- the callback ----------------------------------------------------------------------
    def verify(self, token: str, params: dict[str, str]) -> Answer:
        """The hub's GET: echo the challenge for a pending request of this mode and topic."""
        sub = self._by_token(token)
        mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
        if sub is None or topic != sub.topic:
            return Answer(404, "no such subscription")
        if mode == "denied":
            reason = params.get("hub.reason") or "the hub denied the subscription"
            self._put(replace(sub, state="denied", requested=None, error=reason[:500]))
            return Answer(200)
        challenge = params.get("hub.challenge", "")
        if mode not in ("subscribe", "unsubscribe") or sub.requested != mode or not challenge:
            return Answer(404, "no such request pending")
        if mode == "unsubscribe":
            self._put(replace(sub, state="unsubscribed", requested=None, error=None))
            return Answer(200, challenge)
        if sub.removed:
            return Answer(404, "the source was removed")
        now = self.clock()
        try:
            lease = int(params.get("hub.lease_seconds") or self.lease_seconds)
        except ValueError:
            lease = self.lease_seconds
        lease = max(1, min(lease, 366 * 86400))
        self._put(
            replace(
                sub,
                state="subscribed",
                requested=None,
                lease_seconds=lease,
                lease_until=now + timedelta(seconds=lease),
                error=None,
            )
        )
        self._poll_by(sub.source_id, now + timedelta(seconds=(1 - RENEW_SHARE) * lease))
        return Answer(200, challenge)

    def _poll_by(self, source_id: int, when: datetime) -> None:
        """Bring the source's next poll forward to `when` (the renewal) when it falls later:
        a lease shorter than the polling interval is renewed all the same."""
        source = self.store.get_source(source_id)
        if source is None or (source.next_due_at is not None and source.next_due_at <= when):
            return
        with contextlib.suppress(SourceNotFound):
            self.store.update_source(source.replace(next_due_at=when))

    def receive(self, token: str, body: bytes, signature: str | None) -> Answer:
        """The hub's POST: 410 for a subscription that is no more, 403 for a bad or missing
        signature (nothing stored), else 202 with the source to store the body for."""
        sub = self._by_token(token)
        if sub is None:
            return Answer(404, "no such subscription")
        if sub.removed or sub.state in ("unsubscribed", "denied"):
            return Answer(410, "the subscription has ended")
        problem = signature_ok(sub.secret, body, signature)
        if problem is not None:
            log.warning("WebSub delivery for source %s refused: %s", sub.source_id, problem)
            return Answer(403, problem)
        source = self.store.get_source(sub.source_id)
        if source is None:
            return Answer(410, "the source was removed")
        return Answer(202, source=source)

    def describe(self, sub: Subscription | None) -> dict[str, Any]:
        if sub is None:
            return {"state": None, "hub": None, "topic": None, "lease_until": None, "error": None}
        return {
            "state": sub.state,
            "hub": sub.hub,
            "topic": sub.topic,
            "lease_until": sub.lease_until,
            "error": sub.error,
        }
