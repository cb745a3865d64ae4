"""Full text for articles whose feed carries only a summary: fetch the article's page politely
and safely, extract the article (feeds/ingest/extract.py) and fold it into the stored article.

What a source wants is its `full_text` policy: `auto` (fetch when the feed's text is shorter
than `min_words`), `always` or `never`. A new article starts `pending` when its page is to be
fetched, `full` when the feed (or the CMS) carried the whole text, `summary` when the policy
says not to fetch. Extraction runs after a poll has stored the feed's articles, a bounded number
of pages per poll, never on the web path; `quantam fulltext` does the rest.

Pages are fetched with quantam's own fetcher (the SSRF guard on every connection, size caps,
timeouts, the quantam User-Agent, one request at a time per host with the per-host delay feed
polling uses) after robots.txt allows it (`RobotsCache`, through the same fetcher, reading at
most 500 KiB), and a site's Crawl-delay is honoured: a host that asks for more than `max_wait`
between requests gets its next page at the next poll rather than holding a worker.

When the page gives an article, its text becomes the article's `text` and `index_text` (what
the related-stories model reads), its sanitised HTML is kept in `FullText.html` for feeds, the
page's canonical URL (and the address it was read from) become aliases of the article, and the
lead image, author and dates come from the page where the feed had none. When it gives none
(robots.txt, a refused address, 404, not HTML, too large, too short...), the summary stays and
the reason is recorded on the article and on its source.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from urllib.parse import urlsplit

from feeds.common.errors import FeedError, FetchError, HTTPStatusError, TooLarge
from feeds.common.netguard import USER_AGENT
from feeds.ingest.extract import (
    ExtractedPage,
    Extraction,
    ExtractionFailed,
    extract_page,
    word_count,
)
from feeds.ingest.fetch import Fetcher, FetchResult
from feeds.ingest.normalize import SITE_TIMEZONE, guess_image_type
from feeds.ingest.robots import RobotsCache, RobotsResponse
from store.base import Store
from store.errors import SourceNotFound
from store.models import (
    FULL_TEXT_POLICIES,
    Alias,
    Article,
    FullText,
    Image,
    IngestBatch,
    Source,
    utcnow,
)
from store.urls import InvalidURL, canonical_url

log = logging.getLogger(__name__)

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_ACCEPT = "text/plain, */*;q=0.1"
# A date on a page further ahead than this is the page's error, as for feeds.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class FullTextSettings:
    # `auto` fetches the page when the feed's text has fewer words than this.
    min_words: int = 150
    # Pages fetched per source after each poll (the rest wait for the next poll).
    per_poll: int = 20
    # A host asking for longer than this between requests (robots.txt Crawl-delay) is left
    # for the next poll rather than waited for.
    max_wait: float = 30.0
    # Local times on pages without an offset are this zone's.
    site_timezone: tzinfo = SITE_TIMEZONE
    user_agent: str = USER_AGENT


class BadPolicy(FeedError):
    """A full-text policy quantam does not know."""


def check_policy(value: str) -> str:
    """A full-text policy, or BadPolicy naming the ones there are."""
    if value not in FULL_TEXT_POLICIES:
        raise BadPolicy(f"full text must be one of {', '.join(FULL_TEXT_POLICIES)}, not {value!r}")
    return value


def initial_fulltext(
    article: Article, policy: str, settings: FullTextSettings, origin: str = "feed"
) -> FullText:
    """What a freshly ingested article's text is, before any page is fetched."""
    words = word_count(article.index_text or article.text)
    if policy == "never":
        if words >= settings.min_words:
            return FullText("full", origin=origin)
        return FullText("summary", origin=origin, reason="full text is off for this source")
    if policy == "auto" and words >= settings.min_words:
        return FullText("full", origin=origin)
    return FullText("pending", origin=origin)


@dataclass(frozen=True)
class Deferred:
    """The page was not fetched now (its host asks for a long pause); try at the next poll."""

    url: str
    reason: str

    ok = False


PageOutcome = Extraction | Deferred


class PageReader:
    """Reads article pages: robots.txt first, then the page through quantam's fetcher, then
    the extraction. Safe to share between threads."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: FullTextSettings | None = None,
        robots: RobotsCache | None = None,
    ):
        self.fetcher = fetcher
        self.settings = settings or FullTextSettings()
        self.robots = robots or RobotsCache(self._fetch_robots)

    def _fetch_robots(self, url: str, *, max_bytes: int) -> RobotsResponse:
        result: FetchResult = self.fetcher.fetch(
            url, accept=ROBOTS_ACCEPT, max_bytes=max_bytes, truncate=True
        )
        return result

    def read(self, url: str) -> PageOutcome:
        """The article at `url`, or why there is none, or Deferred. Never raises for the
        page's own problems."""
        ua = self.settings.user_agent
        verdict = self.robots.verdict(url, ua)
        if not verdict.allowed:
            return ExtractionFailed(url, "refused", verdict.reason)
        host = (urlsplit(url).hostname or "").lower()
        delay = self.robots.crawl_delay(url, ua)
        if delay:
            self.fetcher.host_locks.slow_down(host, delay)
        wait = self.fetcher.host_locks.ready_in(host)
        if wait > self.settings.max_wait:
            return Deferred(url, f"{host} asks for {wait:.0f} s between requests")
        try:
            result = self.fetcher.fetch(url, accept=HTML_ACCEPT)
        except HTTPStatusError as exc:
            return ExtractionFailed(url, "http_error", _status_reason(exc.status, url))
        except TooLarge as exc:
            return ExtractionFailed(
                url, "too_large", f"the page is larger than the {exc.limit:,}-byte limit"
            )
        except FetchError as exc:
            return ExtractionFailed(url, "fetch_error", str(exc))
        return extract_page(
            result.body,
            result.url,
            content_type=result.content_type,
            max_bytes=self.fetcher.limits.max_bytes,
            site_timezone=self.settings.site_timezone,
        )


def _status_reason(status: int, url: str) -> str:
    known = {
        401: "the page needs a login (401)",
        403: "the site refuses quantam the page (403 Forbidden)",
        404: "the page is not there (404 Not Found)",
        410: "the page is gone (410 Gone)",
        429: "the site says quantam asks too often (429 Too Many Requests)",
    }
    what = known.get(status) or (
        f"the site failed (HTTP {status})" if status >= 500 else f"the site answered HTTP {status}"
    )
    return f"{what} at {url}"


@dataclass
class FullTextReport:
    """What one extraction run did."""

    extracted: list[str] = field(default_factory=list)
    # article id -> why it has no full text
    failed: dict[str, str] = field(default_factory=dict)
    # articles whose feed text turned out whole (nothing fetched), or which changed meanwhile
    settled: list[str] = field(default_factory=list)
    deferred: int = 0

    @property
    def changed(self) -> list[str]:
        return [*self.extracted, *self.failed, *self.settled]

    def merge(self, other: FullTextReport) -> None:
        self.extracted += other.extracted
        self.failed.update(other.failed)
        self.settled += other.settled
        self.deferred += other.deferred

    def summary(self) -> str:
        parts = [f"{len(self.extracted)} full text", f"{len(self.failed)} failed"]
        if self.deferred:
            parts.append(f"{self.deferred} left for later")
        return ", ".join(parts)


Progress = Callable[[Article, PageOutcome | None], None]


class FullTextExtractor:
    """Fetches the pages of stored articles that wait for their full text and stores what
    they give; thread-safe as long as the store and fetcher are."""

    def __init__(
        self,
        store: Store,
        reader: PageReader,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.reader = reader
        self.settings = reader.settings
        self.clock = clock

    def decide(self, article: Article, source: Source | None, origin: str = "feed") -> FullText:
        policy = source.full_text if source is not None else "auto"
        return initial_fulltext(article, policy, self.settings, origin)

    def run(
        self,
        source_id: int | None = None,
        limit: int | None = None,
        since: datetime | None = None,
        status: str = "pending",
        progress: Progress | None = None,
    ) -> FullTextReport:
        """Extract the articles waiting with `status` ("pending", or "failed" to try again),
        newest first, of one source or all, at most `limit`. Each article is stored as soon
        as its page is read, so a stopped run loses nothing and the next one goes on."""
        report = FullTextReport()
        deferred_hosts: set[str] = set()
        sources: dict[int, Source | None] = {}
        cursor = None
        done = 0
        while limit is None or done < limit:
            batch = self.store.fulltext_queue(
                status,
                source_id,
                limit=50 if limit is None else min(50, limit - done),
                before=cursor,
                since=since,
            )
            if not batch:
                break
            cursor = (batch[-1].published, batch[-1].id)
            for article in batch:
                if limit is not None and done >= limit:
                    break
                host = (urlsplit(article.url).hostname or "").lower()
                if host in deferred_hosts:
                    report.deferred += 1
                    continue
                source = None
                if article.source_id is not None:
                    if article.source_id not in sources:
                        sources[article.source_id] = self.store.get_source(article.source_id)
                    source = sources[article.source_id]
                outcome = self._one(article, source, status, report)
                if isinstance(outcome, Deferred):
                    deferred_hosts.add(host)
                    report.deferred += 1
                else:
                    done += 1
                if progress is not None:
                    progress(article, outcome)
        self._record_errors(report)
        return report

    def _one(
        self, article: Article, source: Source | None, status: str, report: FullTextReport
    ) -> PageOutcome | None:
        policy = source.full_text if source is not None else "auto"
        settled = initial_fulltext(article, policy, self.settings)
        if settled.status != "pending" and status == "pending":
            # The policy changed, or the article was stored before statuses: nothing to fetch.
            self._store(article.id, status, lambda a: a.replace(fulltext=settled), [])
            report.settled.append(article.id)
            return None
        outcome = self.reader.read(article.url)
        if isinstance(outcome, Deferred):
            return outcome
        now = self.clock()
        if isinstance(outcome, ExtractedPage):
            feed_words = word_count(article.index_text or article.text)
            if outcome.words <= feed_words and feed_words >= self.settings.min_words:
                # `always`, and the feed's own text is the longer: it is the full text.
                whole = FullText("full", origin="feed", at=now, page_url=outcome.url)
                self._store(article.id, status, lambda a: a.replace(fulltext=whole), [])
                report.settled.append(article.id)
                return outcome
            if outcome.words <= feed_words:
                outcome = ExtractionFailed(
                    article.url,
                    "too_short",
                    f"the page's text ({outcome.words} words) is no longer than the feed's "
                    f"({feed_words} words)",
                )
        if isinstance(outcome, ExtractedPage):
            page = outcome
            stored = self._store(
                article.id,
                status,
                lambda a: with_page(a, page, now),
                page_aliases(article, page),
            )
            if stored:
                report.extracted.append(article.id)
            else:
                report.settled.append(article.id)
            return page
        failed = outcome
        fulltext = FullText(
            "failed", origin="page", reason=failed.reason, at=now, page_url=failed.url
        )
        if self._store(article.id, status, lambda a: a.replace(fulltext=fulltext), []):
            report.failed[article.id] = failed.reason
        log.info("no full text for %s: %s", article.url, failed.reason)
        return failed

    def _store(
        self,
        article_id: str,
        status: str,
        change: Callable[[Article], Article],
        aliases: list[Alias],
    ) -> bool:
        """Apply `change` to the article as stored now (a poll may have updated it while its
        page was read) and commit it with its new aliases; False when it was taken down or
        another run settled it meanwhile."""
        fresh = self.store.get_article(article_id)
        if fresh is None or fresh.fulltext_status != status:
            return False
        taken = self.store.lookup_aliases((a.kind, a.value) for a in aliases)
        new_aliases = []
        for alias in aliases:
            owner = taken.get((alias.kind, alias.value))
            if owner is None:
                new_aliases.append(alias)
            elif owner != article_id:
                log.info(
                    "%s names %s as its canonical URL, which is article %s",
                    article_id,
                    alias.value,
                    owner,
                )
        self.store.commit(IngestBatch(articles=[change(fresh)], aliases=new_aliases))
        return True

    def _record_errors(self, report: FullTextReport) -> None:
        """The last failure of each source, on the source (`sources list` shows it)."""
        if not report.failed:
            return
        last: dict[int, str] = {}
        for article in self.store.get_articles(report.failed):
            if article.source_id is not None:
                last[article.source_id] = report.failed[article.id]
        now = self.clock()
        for source_id, reason in last.items():
            source = self.store.get_source(source_id)
            if source is None:
                continue
            try:
                self.store.update_source(
                    source.replace(fulltext_error=reason, fulltext_error_at=now)
                )
            except SourceNotFound:
                continue


_LEADING_HEADING = re.compile(r"^\s*<h[1-6][^>]*>(.*?)</h[1-6]>\s*", re.S)
_TAG = re.compile(r"<[^>]+>")


def _without_headline(page: ExtractedPage, title: str) -> tuple[str, str]:
    """The page's text and HTML without a leading heading that is the article's headline
    (the headline is its own field; counted twice it outweighs the body)."""
    text, safe_html = page.text, page.html
    wanted = {_fold(title), _fold(page.title or "")} - {""}
    first, _, rest = text.partition("\n")
    if _fold(first) in wanted:
        text = rest.lstrip("\n")
        heading = _LEADING_HEADING.match(safe_html)
        if heading and _fold(html.unescape(_TAG.sub("", heading.group(1)))) in wanted:
            safe_html = safe_html[heading.end() :]
    return text, safe_html


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def with_page(article: Article, page: ExtractedPage, now: datetime) -> Article:
    """The article with the page's text, and the page's image, author and dates where the
    feed had none (recorded in `FullText.filled`, so later polls keep them)."""
    text, safe_html = _without_headline(page, article.title)
    changes: dict[str, object] = {"text": text, "index_text": text}
    filled: list[str] = []
    if article.image is None and page.image:
        changes["image"] = Image(url=page.image, type=guess_image_type(page.image))
        filled.append("image")
    if article.author is None and page.author:
        changes["author"] = page.author
        filled.append("author")
    published = article.published
    # An entry without a date was stored at its first-seen time.
    if (
        article.published == article.first_seen
        and page.published is not None
        and page.published <= now + FUTURE_TOLERANCE
    ):
        published = page.published
        changes["published"] = published
        filled.append("published")
    if (
        article.updated is None
        and page.updated is not None
        and published < page.updated <= now + FUTURE_TOLERANCE
    ):
        changes["updated"] = page.updated
        filled.append("updated")
    changes["fulltext"] = FullText(
        "full",
        origin="page",
        html=safe_html,
        at=now,
        page_url=page.url,
        filled=tuple(filled),
    )
    return article.replace(**changes)


def page_aliases(article: Article, page: ExtractedPage) -> list[Alias]:
    """The page's canonical URL and the address it was read from, where they differ from the
    article's: `/api/related?url=` finds the article by any of them."""
    out: list[Alias] = []
    for url in (page.canonical_url, page.url):
        if not url:
            continue
        try:
            value = canonical_url(url)
        except InvalidURL:
            continue
        if value != article.url and all(a.value != value for a in out):
            out.append(Alias("url", value, article.id))
    return out
