"""Bulk import: articles from JSON Lines, CSV or sitemap files, streamed in bounded memory.

* JSON Lines (`.jsonl`, `.json`): one object per line, the shared data's format: `title`,
  `text` (plain, paragraphs on their own lines) or `content_html`, `url`, `published` (ISO
  8601, a date alone is midnight in the site's zone), `category`, `image`; also `summary`,
  `author`, `tags`, `updated`, `guid`, `language`. Other fields are ignored (and named).
* CSV (`.csv`): a header row naming the same columns; `tags` separated by `;`.
* Sitemaps (`.xml`): a `<urlset>`, with Google News tags when present (`news:title`,
  `news:publication_date`, `news:language`, `news:keywords`) and `image:loc`. Each page is
  fetched and extracted as full text is (robots.txt, the address guard, size caps, one request
  at a time per host, Crawl-delay waited out) and becomes the article.

Any of them may be gzip-compressed (`.gz`, or recognised by its first bytes). Rows are read one
at a time and stored in batches (500 rows or 16 MiB); a line or field longer than 10 MiB is a
bad row, not a reason to read it whole. A bad row (unreadable, no URL or title, a date that is
not one...) is reported with its number and the rest are imported. After every batch the row
reached is kept in the store, so an interrupted import goes on from there when run again.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import html
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from feeds.common.errors import FeedError, InvalidArticle
from feeds.ingest.extract import ExtractedPage
from feeds.ingest.fulltext import PageReader
from feeds.ingest.pipeline import Ingestor
from feeds.ingest.text import clean_text
from store.models import FullText
from store.urls import InvalidURL

FORMATS = ("jsonl", "csv", "sitemap")
# Rows per stored batch, and bytes of row data at most before a batch is stored anyway.
BATCH_ROWS = 500
BATCH_BYTES = 16 * 1024 * 1024
# A line (JSON Lines) or a field (CSV) longer than this is a bad row.
MAX_ROW_BYTES = 10 * 1024 * 1024
# Bad rows whose reasons are kept (the rest are counted).
KEPT_PROBLEMS = 1000
FIELDS = (
    "url",
    "title",
    "text",
    "content_html",
    "summary",
    "published",
    "updated",
    "category",
    "image",
    "author",
    "tags",
    "guid",
    "language",
)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
IMAGE_NS = "http://www.google.com/schemas/sitemap-image/1.1"
CHECKPOINT = "import:"


class BadImport(FeedError):
    """The file cannot be imported at all (missing, not one of the formats, no header)."""


@dataclass
class Row:
    """One record of the file: its number (line, CSV row or sitemap <url>), the article's
    fields or why the row is bad; for sitemaps the page to read."""

    number: int
    data: dict[str, Any] | None = None
    problem: str | None = None
    page: str | None = None
    size: int = 0


@dataclass
class ImportReport:
    target: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    # (row number, why it was skipped), the first KEPT_PROBLEMS of them
    problems: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0
    rows: int = 0
    resumed_after: int = 0
    ignored_fields: set[str] = field(default_factory=set)

    def skip(self, number: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append((number, reason))

    def summary(self) -> str:
        line = (
            f"{self.target}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped"
        )
        if self.resumed_after:
            line += f" (went on after row {self.resumed_after}, imported before)"
        return line


# -- reading ------------------------------------------------------------------------------------


def open_input(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The file's decompressed bytes, and the raw file (whose position is the progress)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BadImport(f"cannot read {path}: {exc.strerror}") from None
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return raw, raw


def detect_format(path: Path, stream: IO[bytes]) -> str:
    """From the name (.jsonl, .json, .csv, .xml, each maybe .gz), else from the first bytes."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
        (".xml", "sitemap"),
    ):
        if name.endswith(suffix):
            return kind
    head = stream.peek(512)[:512] if hasattr(stream, "peek") else b""
    text = head.lstrip(codecs.BOM_UTF8 + b" \t\r\n")
    if text.startswith(b"{"):
        return "jsonl"
    if text.startswith(b"<"):
        return "sitemap"
    raise BadImport(
        f"{path}: cannot tell its format from its name or first bytes: name it .jsonl, .csv "
        "or .xml, or pass --format"
    )


def record_data(record: dict[str, Any], report: ImportReport) -> dict[str, Any]:
    """A record's fields as a push's (`text` becomes paragraphs of HTML); unknown fields are
    noted and left out. Raises InvalidArticle naming the field at fault."""
    unknown = set(record) - set(FIELDS)
    if unknown and len(report.ignored_fields) < 50:
        report.ignored_fields |= set(sorted(unknown)[:50])
    data = {k: v for k, v in record.items() if k in FIELDS and v not in (None, "")}
    text = data.pop("text", None)
    if text is not None:
        if not isinstance(text, str):
            raise InvalidArticle("field 'text' must be a string")
        if "content_html" not in data:
            paragraphs = [p for p in (clean_text(p) for p in text.split("\n")) if p]
            data["content_html"] = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return data


def jsonl_rows(stream: IO[bytes], report: ImportReport) -> Iterator[Row]:
    number = 0
    while True:
        line = stream.readline(MAX_ROW_BYTES + 1)
        if not line:
            return
        number += 1
        size = len(line)
        if len(line) > MAX_ROW_BYTES and not line.endswith(b"\n"):
            while True:  # the rest of the line, read and dropped a piece at a time
                more = stream.readline(1024 * 1024)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield Row(number, problem=f"the line is longer than {MAX_ROW_BYTES:,} bytes", size=size)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield Row(number, problem=f"not a JSON object: {exc}", size=size)
            continue
        if not isinstance(record, dict):
            yield Row(number, problem="not a JSON object", size=size)
            continue
        try:
            yield Row(number, data=record_data(record, report), size=size)
        except InvalidArticle as exc:
            yield Row(number, problem=str(exc), size=size)


def csv_rows(stream: IO[bytes], report: ImportReport) -> Iterator[Row]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from _csv_rows(text, report)
    finally:
        text.detach()  # the caller closes the file; a wrapper collected would close it first


def _csv_rows(text: io.TextIOWrapper, report: ImportReport) -> Iterator[Row]:
    csv.field_size_limit(MAX_ROW_BYTES)
    reader = csv.reader(text)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise BadImport("the CSV file is empty: it needs a header row") from None
    except csv.Error as exc:
        raise BadImport(f"the CSV header cannot be read: {exc}") from None
    if "url" not in header or "title" not in header:
        raise BadImport(
            f"the CSV header names {', '.join(header) or 'nothing'}: it needs at least url "
            "and title columns"
        )
    number = 1
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(number, problem=f"the row cannot be read: {exc}")
            continue
        if not any(v.strip() for v in values):
            continue
        size = sum(len(v) for v in values)
        if len(values) != len(header):
            yield Row(
                number,
                problem=f"the row has {len(values)} fields, the header {len(header)}",
                size=size,
            )
            continue
        record: dict[str, Any] = dict(zip(header, values, strict=True))
        if record.get("tags"):
            record["tags"] = [t.strip() for t in record["tags"].split(";") if t.strip()]
        try:
            yield Row(number, data=record_data(record, report), size=size)
        except InvalidArticle as exc:
            yield Row(number, problem=str(exc), size=size)


def sitemap_rows(stream: IO[bytes], report: ImportReport) -> Iterator[Row]:
    """Each <url> of a <urlset>, read one at a time (the tree is pruned as it goes)."""
    number = 0
    events = etree.iterparse(
        stream,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    root = etree.QName(element).localname
                    if root == "sitemapindex":
                        raise BadImport(
                            "this is a sitemap index: import the sitemaps it lists (each "
                            "<sitemap><loc>) instead"
                        )
                    if root != "urlset":
                        raise BadImport(f"not a sitemap: the root element is <{root}>")
                continue
            depth -= 1
            if depth != 1 or etree.QName(element).localname != "url":
                continue
            number += 1
            yield _sitemap_row(number, element)
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        if number == 0 and depth == 0:
            raise BadImport(f"not a well-formed sitemap: {exc}") from None
        yield Row(number + 1, problem=f"the sitemap is cut short or malformed here: {exc}")


def _sitemap_row(number: int, element: Any) -> Row:
    def text(path: str) -> str | None:
        found = element.find(path, {"s": SITEMAP_NS, "n": NEWS_NS, "i": IMAGE_NS})
        value = (found.text or "").strip() if found is not None else ""
        return value or None

    loc = text("s:loc") or text("loc")
    if not loc:
        return Row(number, problem="the <url> has no <loc>")
    data: dict[str, Any] = {"url": loc}
    for key, path in (
        ("title", "n:news/n:title"),
        ("published", "n:news/n:publication_date"),
        ("language", "n:news/n:publication/n:language"),
        ("image", "i:image/i:loc"),
        ("lastmod", "s:lastmod"),
    ):
        value = text(path)
        if value:
            data[key] = value
    keywords = text("n:news/n:keywords")
    if keywords:
        data["tags"] = [k.strip() for k in keywords.split(",") if k.strip()]
    return Row(number, data=data, page=loc, size=len(loc))


READERS: dict[str, Callable[[IO[bytes], ImportReport], Iterator[Row]]] = {
    "jsonl": jsonl_rows,
    "csv": csv_rows,
    "sitemap": sitemap_rows,
}


# -- storing ------------------------------------------------------------------------------------


def checkpoint_key(path: Path) -> str:
    """One checkpoint per file as it is (its path, size and time): a changed file starts over."""
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return CHECKPOINT + hashlib.sha1(ident.encode()).hexdigest()[:16]


class Importer:
    """Imports files through an Ingestor: rows normalised, deduplicated and stored as pushed
    articles are, in batches; sitemaps' pages read through `reader`."""

    def __init__(
        self,
        ingestor: Ingestor,
        reader: PageReader | None = None,
        batch_rows: int = BATCH_ROWS,
        batch_bytes: int = BATCH_BYTES,
    ):
        self.ingestor = ingestor
        self.store = ingestor.store
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        # A batch job waits out a site's Crawl-delay rather than leaving pages for later.
        base = reader or ingestor.fulltext.reader
        self.reader = PageReader(
            base.fetcher, replace(base.settings, max_wait=float("inf")), base.robots
        )

    def run(
        self,
        path: Path,
        category: str | None,
        fmt: str | None = None,
        restart: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import one file; `progress` is told the raw bytes read so far after each batch."""
        report = ImportReport(target=str(path))
        stream, raw = open_input(path)
        with raw, stream:
            kind = fmt or detect_format(path, stream)
            if kind not in READERS:
                raise BadImport(f"unknown format {kind!r}: use one of {', '.join(FORMATS)}")
            key = checkpoint_key(path)
            done = 0 if restart else int(self.store.get_meta(key) or 0)
            report.resumed_after = done
            slug = self.ingestor.ensure_category(category).slug if category else None
            batch: list[Row] = []
            size = 0
            last = done
            for row in READERS[kind](stream, report):
                if row.number <= done:
                    continue
                report.rows += 1
                batch.append(row)
                size += row.size
                last = row.number
                if len(batch) >= self.batch_rows or size >= self.batch_bytes:
                    self._store(batch, slug, report)
                    self.store.set_meta(key, str(last).encode())
                    batch, size = [], 0
                    if progress is not None:
                        progress(raw.tell())
            if batch:
                self._store(batch, slug, report)
            self.store.set_meta(key, str(last).encode())
            if progress is not None:
                progress(raw.tell())
        return report

    def _store(self, rows: list[Row], category: str | None, report: ImportReport) -> None:
        records: list[tuple[int, dict[str, Any], FullText | None]] = []
        problems: list[tuple[int, str]] = []
        for row in rows:
            if row.problem is not None or row.data is None:
                problems.append((row.number, row.problem or "empty row"))
                continue
            data = dict(row.data)
            data.setdefault("category", category)
            if not data.get("category"):
                problems.append(
                    (row.number, "no category: the row names none and --category is not given")
                )
                continue
            fulltext = None
            if row.page is not None:
                page_data = self._page(row, data, report, problems)
                if page_data is None:
                    continue
                data, fulltext = page_data
            records.append((row.number, data, fulltext))
        stored, refused = self.ingestor.ingest_records(records)
        for number, reason in sorted(problems + refused):
            report.skip(number, reason)
        report.new += len(stored.new)
        report.updated += len(stored.updated)
        report.unchanged += stored.unchanged + stored.duplicates

    def _page(
        self,
        row: Row,
        data: dict[str, Any],
        report: ImportReport,
        problems: list[tuple[int, str]],
    ) -> tuple[dict[str, Any], FullText] | None:
        """A sitemap URL's article: its page read and extracted; None (the row skipped) when
        the URL is stored already or the page gives no article."""
        assert row.page is not None
        try:
            if self.store.article_id_at(row.page) is not None:
                report.unchanged += 1
                return None
        except InvalidURL:
            problems.append((row.number, f"not an http(s) URL: {row.page!r}"))
            return None
        outcome = self.reader.read(row.page)
        if not isinstance(outcome, ExtractedPage):
            problems.append((row.number, f"{row.page}: {outcome.reason}"))
            return None
        page = outcome
        lastmod = data.pop("lastmod", None)
        out = {k: v for k, v in data.items() if k in FIELDS}
        out["title"] = out.get("title") or page.title or row.page
        out["content_html"] = page.html
        if page.author:
            out.setdefault("author", page.author)
        if page.image:
            out.setdefault("image", page.image)
        published = out.get("published") or (page.published and page.published.isoformat())
        published = published or lastmod
        if published and not _is_date(published):
            published = page.published.isoformat() if page.published else None
        if published:
            out["published"] = published
        else:
            out.pop("published", None)
        fulltext = FullText("full", origin="page", at=self.ingestor.clock(), page_url=page.url)
        return out, fulltext


def _is_date(value: str) -> bool:
    """An ISO 8601 date, or a date-time with its zone (what a push accepts)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None or len(value) == 10


def file_size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
