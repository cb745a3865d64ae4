"""The plain data that flows between quantam's stages and lives in the store.

Every stage (fetch, parse, normalise, recommend, publish) passes these dataclasses rather than
dicts or ORM rows, so each stage can be tested on its own and every backend stores the same shape.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, overload
from urllib.parse import urlsplit

# How a source's entries are told apart. Feeds with broken guids are moved down this list.
ID_POLICIES = ("guid", "link", "link_date_title")
# When a source's article pages are fetched for their full text: `auto` when the feed's text is
# shorter than a number of words (a setting), `always`, or `never`.
FULL_TEXT_POLICIES = ("auto", "always", "never")
# Days of failed-fetch counts a source keeps (the console charts 14).
FAILED_DAYS_KEPT = 14
# What an article's stored text is: `pending` (its page is still to be fetched), `full` (the
# whole article: the feed or CMS carried it, or it was extracted from the page), `summary` (only
# the feed's summary, by policy) or `failed` (the page gave no article; the summary is kept).
FULL_TEXT_STATUSES = ("pending", "full", "summary", "failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


_TS = "%Y-%m-%dT%H:%M:%S.%fZ"
_TS_LENGTH = len("2024-01-01T00:00:00.000000Z")


@overload
def ts(value: datetime) -> str: ...


@overload
def ts(value: None) -> None: ...


@overload
def ts(value: datetime | None) -> str | None: ...


def ts(value: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so that text order is time order (isoformat, unlike
    strftime's %Y, writes years before 1000 with four digits): how the backends store moments,
    and what paging cursors hold."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@overload
def parse_ts(value: str) -> datetime: ...


@overload
def parse_ts(value: None) -> None: ...


@overload
def parse_ts(value: str | None) -> datetime | None: ...


def parse_ts(value: str | None) -> datetime | None:
    """The inverse of `ts`. Every read parses these, so the shape `ts` writes takes C's
    fromisoformat (some 50 times faster than strptime); anything else, strptime as ever."""
    if value is None:
        return None
    if len(value) == _TS_LENGTH and value[10] == "T" and value[19] == "." and value[-1] == "Z":
        return datetime.fromisoformat(value)
    return datetime.strptime(value, _TS).replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC. One that UTC cannot hold (a zone offset before year 1 or after
    year 9999) becomes the earliest or latest datetime, which compares with every article the
    same way, rather than raising OverflowError."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Category:
    """A section of the site ("Thể thao"), addressed by an ASCII slug ("the-thao")."""

    slug: str
    name: str
    language: str = "vi"
    # Whether the category's feeds carry an article's extracted full text (content:encoded,
    # Atom content, JSON Feed content_html); the description stays the summary either way.
    feed_full_text: bool = True

    def replace(self, **changes: Any) -> Category:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Image:
    url: str
    type: str | None = None
    length: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class FullText:
    """Whether an article's stored text is the whole article, and where it came from.

    When the text was extracted from the article's page (origin "page", status "full"), the
    article's `text` and `index_text` hold that text, so the related-stories model reads it;
    `content_html` stays what the feed carried and `html` here is the page's main text."""

    status: str
    # "feed": the feed entry or the CMS push carried it; "page": the article's own page.
    origin: str = "feed"
    # The page's main text as sanitised HTML (status "full", origin "page").
    html: str = ""
    # Why there is no full text (status "failed" or "summary"), in words.
    reason: str | None = None
    # When the page was fetched.
    at: datetime | None = None
    # The address the page was read from, after redirects.
    page_url: str | None = None
    # Fields of the article taken from the page because the feed had none ("image", "author",
    # "published", "updated"): a later poll of the same entry keeps them.
    filled: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> FullText:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Article:
    """One story as quantam knows it, whichever feed or CMS it came from."""

    id: str
    url: str
    title: str
    category: str
    guid: str | None = None
    summary: str = ""
    content_html: str = ""
    text: str = ""
    # The text the recommender reads: `text` without the related-link boxes sites embed in bodies.
    index_text: str = ""
    author: str | None = None
    published: datetime = field(default_factory=utcnow)
    updated: datetime | None = None
    first_seen: datetime = field(default_factory=utcnow)
    tags: tuple[str, ...] = ()
    image: Image | None = None
    language: str = "vi"
    source_id: int | None = None
    # sha1 of title + content: a change means the story was edited.
    content_hash: str = ""
    # sha1 of the normalised body text, for "same text under another URL"; "" when too short.
    body_hash: str = ""
    # Whether `text` is the whole article; None for articles stored before quantam fetched
    # article pages (never fetched).
    fulltext: FullText | None = None

    @property
    def fulltext_status(self) -> str | None:
        return self.fulltext.status if self.fulltext is not None else None

    def replace(self, **changes: Any) -> Article:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Teaser:
    """An article as lists show it (related boxes, API lists, feeds' related links).

    Read without the body, which lists never show and which is most of what an article costs
    to read: a related answer shows six of these.
    """

    id: str
    url: str
    title: str
    category: str
    published: datetime
    summary: str = ""
    image: Image | None = None

    @classmethod
    def of(cls, article: Article) -> Teaser:
        return cls(
            id=article.id,
            url=article.url,
            title=article.title,
            category=article.category,
            published=article.published,
            summary=article.summary,
            image=article.image,
        )


@dataclass(frozen=True)
class Source:
    """A feed quantam polls, with everything it remembers about polling it politely."""

    url: str
    category: str
    name: str = ""
    id: int | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    id_policy: str = "guid"
    id_policy_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # Seconds between polls as last decided by the schedule (feed ttl, Cache-Control, bounds).
    interval: int | None = None
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    # A recoverable problem in the last fetched body (feedparser "bozo"), in words.
    last_warning: str | None = None
    error_count: int = 0
    next_due_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    # Feed-level hints remembered between polls (skipHours / skipDays from the feed itself).
    skip_hours: tuple[int, ...] = ()
    skip_days: tuple[str, ...] = ()
    # When the source's article pages are fetched for their full text (FULL_TEXT_POLICIES).
    full_text: str = "auto"
    # The last article page that gave no full text: why, and when.
    fulltext_error: str | None = None
    fulltext_error_at: datetime | None = None
    # Failed fetches per UTC day, oldest first, the last FAILED_DAYS_KEPT days: the console's
    # 14-day chart (consecutive errors alone cannot say on which days polls failed).
    failed_days: tuple[tuple[str, int], ...] = ()

    def replace(self, **changes: Any) -> Source:
        return dataclasses.replace(self, **changes)

    def with_failure(self, now: datetime) -> Source:
        """This source with one more failed fetch counted on `now`'s UTC day."""
        day = as_utc(now).date()
        first = (day - timedelta(days=FAILED_DAYS_KEPT - 1)).isoformat()
        counts = {d: n for d, n in self.failed_days if d >= first}
        counts[day.isoformat()] = counts.get(day.isoformat(), 0) + 1
        return self.replace(failed_days=tuple(sorted(counts.items())))

    def failures_on(self, day: date) -> int:
        return dict(self.failed_days).get(day.isoformat(), 0)

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


class RelatedItem(NamedTuple):
    """One entry of an article's "Có thể bạn quan tâm" list.

    A named tuple rather than a frozen dataclass: a served answer decodes a whole stored list,
    and building frozen dataclasses was most of what reading one cost."""

    article_id: str
    score: float
    # True when the item is not similar enough and was filled from the same category's latest.
    fill: bool = False
    # The shared terms that explain why the item is related.
    reason: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alias:
    """A key that identifies an already stored article: how dedupe finds it again.

    kind is "url" (canonical URL), "key" (a source's entry key, value "<source id>:<key>") or
    "body" (hash of the body text).
    """

    kind: str
    value: str
    article_id: str


@dataclass
class IngestBatch:
    """Everything one fetched feed (or one CMS push) changes, written in one transaction."""

    articles: list[Article] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    source: Source | None = None
    category: Category | None = None


@dataclass(frozen=True)
class Change:
    """One entry of the store's change log, which index workers follow to stay current."""

    seq: int
    article_id: str
    # "upsert" or "delete"
    op: str


# How long hourly popularity counters are kept: the longest window asked (30 days) and a day.
POPULARITY_RETENTION = timedelta(days=31)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC clock hour holding `moment`: popularity is counted per hour."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class EventCount:
    """Impressions and clicks of one article in one UTC clock hour (`hour` is its start): what
    the box's beacons add up to, with no trace of who sent them."""

    article_id: str
    hour: datetime
    impressions: int = 0
    clicks: int = 0


@dataclass(frozen=True)
class Popularity:
    """An article's counts summed over a window, as `Store.popular` ranks them."""

    article_id: str
    clicks: int
    impressions: int
