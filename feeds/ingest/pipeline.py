"""The ingestion pipeline: fetch (or take bytes, or take a pushed article), parse, normalise,
dedupe, store, in one transaction per feed, and record how it went on the source.

Everything that can go wrong with a source ends as words in its `last_error` (or `last_warning`
for problems that still let us read it); nothing already stored is lost by a bad fetch.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feeds.common.errors import BadURL, FeedError, FetchError, HTTPStatusError, InvalidArticle
from feeds.ingest.dedupe import Candidate, Plan, choose_policy, entry_key, plan_batch
from feeds.ingest.fetch import Fetcher, FetchResult
from feeds.ingest.fulltext import (
    FullTextExtractor,
    FullTextReport,
    FullTextSettings,
    PageReader,
    Progress,
    check_policy,
)
from feeds.ingest.normalize import (
    EntryContext,
    entry_from_data,
    entry_from_push,
    normalize_entry,
)
from feeds.ingest.parse import ParsedFeed, RawEntry, parse_feed
from feeds.ingest.push import MAX_CATEGORY_LENGTH, parse_push
from feeds.ingest.schedule import ScheduleSettings, error_delay, next_due, poll_interval
from feeds.ingest.text import clean_text, slugify
from feeds.ingest.websub import WebSubSubscriber, discover
from store.base import Store
from store.errors import SourceExists, SourceNotFound, StoreUnavailable
from store.models import Article, Category, FullText, IngestBatch, Source, utcnow
from store.urls import InvalidURL, canonical_url

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one poll, file or push did: shown by the CLI and passed to listeners."""

    target: str
    source_id: int | None = None
    http_status: int | None = None
    not_modified: bool = False
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    taken_down: int = 0
    warning: str | None = None
    error: str | None = None
    # The article pages read after the poll, when any were.
    fulltext: FullTextReport | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> list[str]:
        pages = self.fulltext.changed if self.fulltext is not None else []
        return self.new + self.updated + [i for i in pages if i not in self.new]

    def summary(self) -> str:
        if self.error:
            return f"{self.target}: error: {self.error}"
        if self.not_modified:
            return f"{self.target}: not modified (304)"
        parts = [
            f"{len(self.new)} new",
            f"{len(self.updated)} updated",
            f"{self.unchanged} unchanged",
        ]
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicates")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.taken_down:
            parts.append(f"{self.taken_down} taken down")
        line = f"{self.target}: " + ", ".join(parts)
        if self.fulltext is not None and (self.fulltext.changed or self.fulltext.deferred):
            line += f"; pages: {self.fulltext.summary()}"
        return line + (f" (warning: {self.warning})" if self.warning else "")


Listener = Callable[[IngestReport], None]
# Characters of a category as given (its slug, or a name it is made from): slugs are in every
# feed URL and metric label, and the longest Vietnamese newspapers use is under 30
# ("khoa-hoc-cong-nghe"). Unbounded, 5,000 characters were accepted.
# The target of the report of an article a CMS pushed (listeners tell pushes from polls by it).
CMS = "cms"
# The target of the report of entries a WebSub hub delivered (stored on a web worker, too).
WEBSUB = "websub"


class Ingestor:
    """Runs the pipeline against one store; thread-safe as long as the store and fetcher are."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher | None = None,
        schedule: ScheduleSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        fulltext: FullTextSettings | None = None,
        websub: WebSubSubscriber | None = None,
    ):
        """fulltext: read article pages after each poll (at most `per_poll` per source), as
        the service does; without it polls store the feed's text only (pages are still marked
        pending, for `quantam fulltext`)."""
        self.store = store
        self.fetcher = fetcher or Fetcher()
        self.schedule = schedule or ScheduleSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.listeners: list[Listener] = []
        self.fulltext = FullTextExtractor(
            store, PageReader(self.fetcher, fulltext or FullTextSettings()), clock
        )
        self.pages_per_poll = fulltext.per_poll if fulltext is not None else 0
        # Subscribes sources whose feed names a WebSub hub (after each poll).
        self.websub = websub

    # -- categories and sources -------------------------------------------------------------
    def ensure_category(self, slug: str, name: str | None = None, language: str = "vi") -> Category:
        """The category with this slug, created (or renamed when a name is given)."""
        if len(slug) > MAX_CATEGORY_LENGTH:
            raise InvalidArticle(
                f"field 'category' has {len(slug):,} characters; a category slug or name has "
                f"at most {MAX_CATEGORY_LENGTH}"
            )
        slug = slugify(slug)
        if not slug:
            raise InvalidArticle("a category needs a slug of letters or digits")
        existing = self.store.get_category(slug)
        if existing and (name is None or name == existing.name):
            return existing
        category = Category(
            slug=slug,
            name=clean_text(name) or (existing.name if existing else slug),
            language=existing.language if existing else language,
            feed_full_text=existing.feed_full_text if existing else True,
        )
        self.store.put_category(category)
        return category

    def add_source(
        self,
        url: str,
        category: str,
        name: str = "",
        category_name: str | None = None,
        full_text: str = "auto",
    ) -> Source:
        """Raises BadURL, BadPolicy (a full-text policy quantam does not know) or
        SourceExists."""
        url = url.strip()
        try:
            canonical_url(url)
        except InvalidURL as exc:  # a source's problem, in its words
            raise BadURL(str(exc)) from exc
        policy = check_policy(full_text)
        cat = self.ensure_category(category, category_name)
        return self.store.add_source(
            Source(url=url, category=cat.slug, name=clean_text(name), full_text=policy)
        )

    # -- polling ------------------------------------------------------------------------------
    def poll_source(self, source: Source) -> IngestReport:
        """Fetch one source conditionally and store what changed; never raises for the feed's
        own problems: they end up on the source and in the report.

        Anything unexpected (a bug, MemoryError) is recorded on the source too, with backoff:
        otherwise the source would stay "never fetched" and be fetched again every round."""
        try:
            return self._poll_source(source)
        except (StoreUnavailable, SourceNotFound):
            raise
        except Exception as exc:
            log.exception("polling source %s failed unexpectedly", source.id)
            report = IngestReport(target=source.name or source.url, source_id=source.id)
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._failed(source, report, FeedError(f"internal error: {problem}"), self.clock())
            return report

    def _poll_source(self, source: Source) -> IngestReport:
        now = self.clock()
        report = IngestReport(target=source.name or source.url, source_id=source.id)
        try:
            result = self.fetcher.fetch(source.url, source.etag, source.last_modified)
        except HTTPStatusError as exc:
            report.http_status = exc.status
            self._failed(source, report, exc, now, status=exc.status, retry_after=exc.retry_after)
            return report
        except FetchError as exc:
            self._failed(source, report, exc, now)
            return report
        report.http_status = result.status
        source = self._moved(source, result)
        if result.not_modified:
            report.not_modified = True
            self._save_source(self._succeeded(source, result, None, now))
            self._notify(report)
            self._read_pages(source, report)
            self._subscribe(source, result, None)
            return report
        try:
            parsed = parse_feed(result.body, url=result.url, content_type=result.content_type)
        except FeedError as exc:
            self._failed(source, report, exc, now, status=result.status)
            return report
        updated_source = self._succeeded(source, result, parsed, now)
        try:
            self._store_feed(parsed, report, now, updated_source)
        except SourceNotFound as exc:
            report.error = f"{exc}: it was removed while being polled; nothing was stored"
            return report
        except StoreUnavailable as exc:
            # Nothing was written, not even the new ETag: the next poll fetches it all again.
            report.error = f"{exc}; nothing was stored, the feed will be fetched again"
            return report
        self._notify(report)
        self._read_pages(updated_source, report)
        self._subscribe(updated_source, result, parsed)
        return report

    def _subscribe(self, source: Source, result: FetchResult, parsed: ParsedFeed | None) -> None:
        """WebSub: subscribe to the hub the feed names, or renew the lease in time."""
        if self.websub is None or source.id is None:
            return
        if parsed is not None:
            found = discover(result.links, parsed.hubs, parsed.self_url, result.url)
        else:  # 304: the feed is as it was, and so are its hub and topic
            sub = self.websub.get(source.id)
            found = discover(result.links, (), None, result.url) or (
                (sub.hub, sub.topic) if sub is not None else None
            )
        try:
            self.websub.after_poll(source, found)
        except StoreUnavailable:
            raise
        except Exception:  # the hub's problem or a bug: polling goes on regardless
            log.exception("WebSub subscription of source %s failed", source.id)

    def ingest_delivery(
        self, source: Source, body: bytes, content_type: str | None = None
    ) -> IngestReport:
        """Store what a WebSub hub delivered for a source (its feed's new entries, signature
        already checked), as a poll stores a feed, and make the source due: the next poll
        round reads the new articles' pages, off the web path."""
        now = self.clock()
        report = IngestReport(target=WEBSUB, source_id=source.id)
        try:
            parsed = parse_feed(body, url=source.url, content_type=content_type)
        except FeedError as exc:
            report.error = str(exc)
            return report
        self._store_feed(parsed, report, now, source.replace(next_due_at=now))
        self._notify(report)
        return report

    def _read_pages(self, source: Source, report: IngestReport) -> None:
        """After a poll stored the feed's articles: read the pages of those that wait for their
        full text, at most `pages_per_poll`; listeners hear of the articles that changed."""
        if not self.pages_per_poll or source.id is None or source.full_text == "never":
            return
        pages = self.extract_pending(source.id, limit=self.pages_per_poll, target=report.target)
        report.fulltext = pages

    def extract_pending(
        self,
        source_id: int | None = None,
        limit: int | None = None,
        since: datetime | None = None,
        retry_failed: bool = False,
        target: str = "full text",
        progress: Progress | None = None,
    ) -> FullTextReport:
        """Read the pages of stored articles that wait for their full text (or, with
        retry_failed, whose page failed), of one source or all; listeners hear of the
        articles that changed, so their related lists are recomputed."""
        pages = self.fulltext.run(
            source_id,
            limit=limit,
            since=since,
            status="failed" if retry_failed else "pending",
            progress=progress,
        )
        if pages.changed:
            self._notify(IngestReport(target=target, source_id=source_id, updated=pages.changed))
        return pages

    def ingest_bytes(
        self, body: bytes, *, target: str, category: str, content_type: str | None = None
    ) -> IngestReport:
        """Ingest a saved feed (a file, or a URL fetched once) without a source to remember."""
        now = self.clock()
        report = IngestReport(target=target)
        cat = self.ensure_category(category)
        try:
            parsed = parse_feed(
                body, url=target if "://" in target else "", content_type=content_type
            )
        except FeedError as exc:
            report.error = str(exc)
            return report
        self._store_feed(
            parsed, report, now, None, category=cat, scope=f"feed:{parsed.link or target}"
        )
        self._notify(report)
        return report

    def ingest_url_once(self, url: str, category: str) -> IngestReport:
        try:
            result = self.fetcher.fetch(url)
        except FetchError as exc:
            return IngestReport(
                target=url, error=str(exc), http_status=getattr(exc, "status", None)
            )
        return self.ingest_bytes(
            result.body, target=result.url, category=category, content_type=result.content_type
        )

    # -- the CMS path -------------------------------------------------------------------------
    def ingest_article(self, data: dict[str, Any], category: str | None = None) -> Article:
        """Normalise and store one article given as data (what the CMS pushes).

        Raises InvalidArticle naming the bad field. Pushing an article that was taken down
        publishes it again; pushing the same guid or URL again updates it."""
        site = self.fulltext.settings.site_timezone
        push = parse_push(data if category is None else {**data, "category": category}, site)
        if not slugify(push.category):
            raise InvalidArticle(
                "field 'category' is required (a category slug such as 'the-thao')", "category"
            )
        entry = entry_from_push(push)
        cat = self.ensure_category(push.category)
        now = self.clock()
        article = normalize_entry(entry, EntryContext(cat.slug, now, language=cat.language))
        if entry.content_html:
            # A push with a body is the article: its page is never fetched.
            article = article.replace(fulltext=FullText("full", origin="push"))
        else:
            article = article.replace(fulltext=self.fulltext.decide(article, None, "push"))
        cand = Candidate(article, key=entry.guid or article.url, dated=entry.published is not None)
        plan = self._plan([cand], "cms", now, from_publisher=True)
        report = IngestReport(
            target=CMS,
            new=[a.id for a in plan.new],
            updated=[a.id for a in plan.updated],
            unchanged=plan.unchanged,
            duplicates=plan.duplicates,
        )
        self.store.commit(IngestBatch(articles=plan.articles, aliases=plan.aliases))
        self._notify(report)
        stored = plan.articles[0] if plan.articles else self._resolve(cand)
        return stored

    def ingest_records(
        self, records: list[tuple[int, dict[str, Any], FullText | None]], origin: str = "import"
    ) -> tuple[IngestReport, list[tuple[int, str]]]:
        """Store articles given as data (a bulk import's rows: numbered, each with the full
        text it brings, if any) in one batch; returns what was stored and the rows refused,
        with why."""
        now = self.clock()
        problems: list[tuple[int, str]] = []
        candidates: list[Candidate] = []
        categories: dict[str, Category] = {}
        tz = self.fulltext.settings.site_timezone
        for number, data, fulltext in records:
            try:
                label = data.get("category")
                if not isinstance(label, str) or not slugify(label):
                    raise InvalidArticle("field 'category' must name a category")
                cat = categories.get(label)
                if cat is None:
                    name = label if slugify(label) != label else None
                    cat = categories[label] = self.ensure_category(label, name)
                entry = entry_from_data({**data, "category": cat.slug}, tz)
                context = EntryContext(cat.slug, now, language=cat.language)
                article = normalize_entry(entry, context)
            except InvalidArticle as exc:
                problems.append((number, str(exc)))
                continue
            if fulltext is None:
                fulltext = (
                    FullText("full", origin=origin)
                    if entry.content_html
                    else self.fulltext.decide(article, None, origin)
                )
            article = article.replace(fulltext=fulltext)
            key = entry.guid or article.url
            candidates.append(Candidate(article, key=key, dated=entry.published is not None))
        plan = self._plan(candidates, origin, now)
        report = IngestReport(
            target=origin,
            new=[a.id for a in plan.new],
            updated=[a.id for a in plan.updated],
            unchanged=plan.unchanged + plan.taken_down,
            duplicates=plan.duplicates,
        )
        if plan.articles or plan.aliases:
            self.store.commit(IngestBatch(articles=plan.articles, aliases=plan.aliases))
            self._notify(report)
        return report, problems

    def _resolve(self, cand: Candidate) -> Article:
        found = self.store.lookup_aliases(cand.alias_keys("cms"))
        for key in cand.alias_keys("cms"):
            if key in found:
                article = self.store.get_article(found[key])
                if article:
                    return article
        return cand.article

    # -- internals ----------------------------------------------------------------------------
    def _store_feed(
        self,
        parsed: ParsedFeed,
        report: IngestReport,
        now: datetime,
        source: Source | None,
        category: Category | None = None,
        scope: str | None = None,
    ) -> None:
        if source is not None:
            category = self.store.get_category(source.category) or Category(
                source.category, source.category
            )
            scope = str(source.id)
        assert category is not None and scope is not None
        ctx = EntryContext(
            category=category.slug,
            now=now,
            source_id=source.id if source else None,
            language=category.language,
        )
        pairs: list[tuple[RawEntry, Article]] = []
        for entry in parsed.entries:
            try:
                article = normalize_entry(entry, ctx)
            except InvalidArticle:
                report.skipped += 1
                continue
            pairs.append((entry, article.replace(fulltext=self.fulltext.decide(article, source))))
        current = source.id_policy if source else "guid"
        policy, reason = choose_policy([e for e, _ in pairs], [a.url for _, a in pairs], current)
        candidates = [
            Candidate(a, entry_key(e, a, policy), dated=bool(e.published or e.updated))
            for e, a in pairs
        ]
        plan = self._plan(candidates, scope, now)
        warning = parsed.warning
        if report.skipped:
            note = f"{report.skipped} entries without an http(s) link were skipped"
            warning = f"{warning}; {note}" if warning else note
        report.warning = warning
        if source is not None:
            source = source.replace(last_warning=warning)
            if policy != current:
                source = source.replace(id_policy=policy, id_policy_reason=reason)
                log.warning("source %s: %s", source.id, reason)
        self.store.commit(IngestBatch(articles=plan.articles, aliases=plan.aliases, source=source))
        report.new = [a.id for a in plan.new]
        report.updated = [a.id for a in plan.updated]
        report.unchanged, report.duplicates = plan.unchanged, plan.duplicates
        report.taken_down = plan.taken_down

    def _plan(
        self, candidates: list[Candidate], scope: str, now: datetime, from_publisher: bool = False
    ) -> Plan:
        """from_publisher: the CMS pushing its own article, which overrides a feed's copy and
        may publish a taken-down article again."""
        keys = [k for c in candidates for k in c.alias_keys(scope)]
        found = self.store.lookup_aliases(keys)
        ids = set(found.values())
        stored = {a.id: a for a in self.store.get_articles(ids)}
        down = set() if from_publisher else self.store.taken_down(ids - stored.keys())
        return plan_batch(candidates, scope, found, stored, down, now, authoritative=from_publisher)

    def _moved(self, source: Source, result: FetchResult) -> Source:
        """Follow a permanent redirect: the source is polled at its new URL from now on."""
        new_url = result.permanent_url
        if not new_url or new_url == source.url:
            return source
        clash = self.store.find_source(new_url)
        if clash is not None and clash.id != source.id:
            log.warning(
                "source %s moved to %s, which source %s already polls", source.id, new_url, clash.id
            )
            return source
        log.info("source %s moved permanently: %s -> %s", source.id, source.url, new_url)
        return source.replace(url=new_url)

    def _succeeded(
        self, source: Source, result: FetchResult, parsed: ParsedFeed | None, now: datetime
    ) -> Source:
        if parsed is not None:
            interval = poll_interval(self.schedule, parsed.ttl_minutes, result.max_age)
            skip_hours, skip_days = parsed.skip_hours, parsed.skip_days
        else:
            # 304: the feed (and its ttl) is unchanged, so the interval it set still holds.
            interval = source.interval or poll_interval(self.schedule, None, result.max_age)
            skip_hours, skip_days = source.skip_hours, source.skip_days
        due = next_due(now, interval, self.schedule, skip_hours, skip_days, self.rng)
        if self.websub is not None and source.id is not None and self.websub.is_pushed(source.id):
            # The hub pushes new entries: polling is the fallback, less often, but in time
            # to renew the lease.
            interval = max(interval, self.websub.poll_interval)
            due = next_due(now, interval, self.schedule, skip_hours, skip_days, self.rng)
            renew = self.websub.renew_at(source.id)
            if renew is not None and renew < due:
                due = max(renew, now)
        return source.replace(
            etag=result.etag or (source.etag if result.not_modified else None),
            last_modified=result.last_modified
            or (source.last_modified if result.not_modified else None),
            interval=interval,
            last_fetch_at=now,
            last_success_at=now,
            last_status=result.status,
            last_error=None,
            error_count=0,
            skip_hours=skip_hours,
            skip_days=skip_days,
            next_due_at=due,
        )

    def _failed(
        self,
        source: Source,
        report: IngestReport,
        exc: Exception,
        now: datetime,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        report.error = str(exc)
        errors = source.error_count + 1
        if status == 410:
            source = source.replace(
                enabled=False,
                disabled_reason=f"{exc}; polling stopped (re-enable with `quantam sources "
                f"enable {source.id}` if it comes back)",
            )
        delay = error_delay(self.schedule, errors, retry_after, self.rng)
        if retry_after is not None:
            report.error += f"; retrying after {delay} s as the server asked"
        source = source.with_failure(now).replace(
            last_fetch_at=now,
            last_status=status,
            last_error=report.error,
            error_count=errors,
            next_due_at=next_due(
                now,
                delay,
                self.schedule,
                source.skip_hours,
                source.skip_days,
                self.rng,
                jitter=False,
            ),
        )
        self._save_source(source)
        log.info("source %s failed: %s", source.id, report.error)

    def _save_source(self, source: Source) -> None:
        try:
            self.store.update_source(source)
        except SourceExists:
            stored = self.store.get_source(source.id) if source.id is not None else None
            assert stored is not None  # the source being polled is stored
            self.store.update_source(source.replace(url=stored.url))

    def _notify(self, report: IngestReport) -> None:
        for listener in self.listeners:
            listener(report)
