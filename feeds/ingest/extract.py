"""The full text of an article page: main text, its safe HTML and the page's own metadata.

One pure function, `extract_page(page, url)`, turns the bytes of a fetched page into either an
`ExtractedPage` (plain text with paragraphs on their own lines, the same text as HTML sanitised
like feed content, lead image, author, published/updated, canonical URL, title, language) or an
`ExtractionFailed` whose reason says in words why there is no text (too large, empty, not HTML,
no main text found, too short). Nothing here fetches, stores or logs in: callers pass the bytes
the fetcher read and keep the feed's summary when extraction fails.

trafilatura finds the main text. Before it sees the page, the related-link boxes that
Vietnamese news sites put inside and after the body ("Tin liên quan", "Xem thêm", "Có thể bạn
quan tâm", "Tin cùng chuyên mục", "Đọc nhiều", and the class names the sites give them) are cut
out of the DOM, so their headlines never enter the text: otherwise every article would inherit
its editor-picked neighbours' words and the related-stories model would echo the site's links.

Options and their measured effect on the 181 pages of the Scrapinghub article-extraction
benchmark are in docs/benchmarks/extract.md (`benchmarks/extract.py` runs it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.htmlprocessing import convert_to_html
from trafilatura.utils import decode_file, load_html

from feeds.ingest.fetch import FetchLimits
from feeds.ingest.normalize import SITE_TIMEZONE
from feeds.ingest.sanitize import RELATED_BOX_MARKERS, extract_texts, sanitize_html
from feeds.ingest.text import clean_text, nfc
from store.language import language_code

# SITE_TIMEZONE: Vietnamese sites write local times without an offset; they mean the site's
# zone (Hanoi time unless QUANTAM_TIMEZONE says otherwise).
# A page is refused above the fetcher's own cap: nothing larger can arrive through it.
MAX_PAGE_BYTES = FetchLimits.max_bytes
# Fewer words than this is a teaser, a consent wall or a paywall, not an article.
MIN_WORDS = 30

# The last three are the page reader's (feeds/ingest/fulltext.py): robots.txt or the address
# guard refused the page, the site answered an error status, the fetch itself failed.
FailureCode = Literal[
    "too_large",
    "empty",
    "not_html",
    "no_text",
    "too_short",
    "refused",
    "http_error",
    "fetch_error",
]


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself. Dates are aware UTC; URLs are absolute http(s)."""

    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    canonical_url: str | None = None
    image: str | None = None
    # ISO 639 code of the language the page declares ("vi"), if it declares one.
    language: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExtractedPage(PageMetadata):
    """The article found on a page: its metadata, plain text and sanitised HTML."""

    # The address the page was fetched from (not the canonical one).
    url: str
    # Paragraphs on their own lines, NFC.
    text: str
    html: str
    # Wall-clock seconds the extraction took.
    seconds: float = 0.0
    # How many related-link boxes were cut out of the page before extraction.
    boxes_removed: int = 0

    ok = True

    @property
    def words(self) -> int:
        return word_count(self.text)


@dataclass(frozen=True)
class ExtractionFailed:
    """No article text: `reason` says why, in words an operator can act on."""

    url: str
    code: FailureCode
    reason: str
    seconds: float = 0.0

    ok = False


Extraction = ExtractedPage | ExtractionFailed


@dataclass(frozen=True)
class ExtractSettings:
    """How the main text is found. The defaults won on the benchmark (docs/benchmarks/extract.md
    has every alternative's figures); the others are there to measure them again."""

    # trafilatura's own switches. Precision prunes harder (fewer trailing teasers and bylines).
    favor_precision: bool = True
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False
    # Links kept change which block trafilatura picks (it weighs link density), and lose.
    include_links: bool = False
    # Bold, italics and the like kept in the HTML.
    include_formatting: bool = True
    # First pass without trafilatura's fallback extractors (readability, jusText), which cost
    # a third of its time; the pass is done again with them when it finds fewer than
    # partial_words words and less than partial_share of the page's words (trafilatura's own
    # sign of a side block picked instead of the article).
    fast: bool = True
    partial_words: int = 500
    partial_share: float = 0.2
    # Cut related-link boxes out of the page first.
    prune_boxes: bool = True
    # When the precise pass finds fewer than min_words, one more pass favouring recall.
    recall_retry: bool = True


DEFAULT_SETTINGS = ExtractSettings()


def extract_page(
    page: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    max_bytes: int = MAX_PAGE_BYTES,
    min_words: int = MIN_WORDS,
    site_timezone: tzinfo = SITE_TIMEZONE,
    settings: ExtractSettings = DEFAULT_SETTINGS,
) -> Extraction:
    """The main text and metadata of the page at `url` (the address it was fetched from, used to
    resolve relative links). `content_type` is the response's Content-Type header, when known.

    Never raises for bad input: every way a page can hold no article is an ExtractionFailed."""
    started = time.perf_counter()

    def failed(code: FailureCode, reason: str) -> ExtractionFailed:
        return ExtractionFailed(url, code, reason, time.perf_counter() - started)

    size = len(page) if isinstance(page, bytes) else len(page.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return failed(
            "too_large", f"the page is {size:,} bytes, over the {max_bytes:,}-byte extraction limit"
        )
    if not page.strip():
        return failed("empty", "the page is empty")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared not in _HTML_TYPES:
        return failed("not_html", f"the page is not HTML (Content-Type {declared})")
    sniffed = _binary_kind(page) if isinstance(page, bytes) else None
    if sniffed:
        return failed("not_html", f"the page is not HTML: it looks like {sniffed}")
    text = nfc(page if isinstance(page, str) else _decode(page, content_type, max_bytes))
    sniffed = _text_kind(text)
    if sniffed:
        return failed("not_html", f"the page is not HTML: it looks like {sniffed}")
    tree = load_html(text)
    if tree is None or not _has_visible_text(tree):
        return failed("empty", "the page has no visible text")

    meta = page_metadata(tree, url, site_timezone)
    boxes = remove_related_boxes(tree) if settings.prune_boxes else 0
    found = _main_text(tree, url, settings)
    if settings.fast and _looks_partial(found, tree, settings):
        found = _main_text(tree, url, replace(settings, fast=False)) or found
    if settings.recall_retry and (found is None or word_count(found[1]) < min_words):
        retry = replace(settings, favor_precision=False, favor_recall=True, recall_retry=False)
        found = max((found, _main_text(tree, url, retry)), key=_words_found)
    if found is None:
        return failed(
            "no_text",
            "no main text found: the page looks like a front page, a gallery or a page that "
            "needs JavaScript",
        )
    safe_html, plain = found
    if _mostly_links(plain, tree):
        return failed(
            "no_text",
            "no main text found: what stands out is a list of links (a front or section page), "
            "not an article",
        )
    words = word_count(plain)
    if words < min_words:
        return failed(
            "too_short",
            f"the main text found is only {words} words (fewer than {min_words}): a teaser, "
            "a consent or paywall page, or not an article",
        )
    return ExtractedPage(
        url=url,
        text=plain,
        html=safe_html,
        seconds=time.perf_counter() - started,
        boxes_removed=boxes,
        **{field.name: getattr(meta, field.name) for field in fields(PageMetadata)},
    )


# Scripts written without spaces between words: each character counts as a word.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words of a text: runs between spaces, and each Chinese or Japanese character."""
    unspaced = len(_UNSPACED.findall(text))
    return unspaced + len(_UNSPACED.sub(" ", text).split()) if unspaced else len(text.split())


# -- main text ---------------------------------------------------------------------------------


def _main_text(tree: HtmlElement, url: str, settings: ExtractSettings) -> tuple[str, str] | None:
    """trafilatura's main text of the (pruned) tree: its sanitised HTML and plain text."""
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        favor_precision=settings.favor_precision,
        favor_recall=settings.favor_recall,
        fast=settings.fast,
        include_tables=settings.include_tables,
        include_comments=settings.include_comments,
        include_links=settings.include_links,
        include_formatting=settings.include_formatting,
        include_images=False,
    )
    assert not isinstance(document, dict)  # a Document: as_dict is off
    if document is None or document.body is None or not len(document.body):
        return None
    safe_html = sanitize_html(etree.tostring(convert_to_html(document.body), encoding="unicode"))
    plain = extract_texts(safe_html).text
    return (safe_html, plain) if plain else None


def _looks_partial(
    found: tuple[str, str] | None, tree: HtmlElement, settings: ExtractSettings
) -> bool:
    """A short text that holds little of the page's words: the fast pass may have picked a
    side block (trafilatura escalates on the same sign)."""
    words = _words_found(found)
    if words >= settings.partial_words:
        return False
    body = tree.find("body")
    page_words = sum(len(text.split()) for text in _TEXTS(body if body is not None else tree))
    return words < settings.partial_share * page_words


def _mostly_links(text: str, tree: HtmlElement) -> bool:
    """Most of the text's words are on lines that are some link's whole text on the page."""
    anchors = {" ".join(text.split()) for text in _ANCHOR_TEXTS(tree)}
    linked = total = 0
    for line in text.split("\n"):
        words = len(line.split())
        total += words
        if " ".join(line.split()) in anchors:
            linked += words
    return total > 0 and linked >= _LINK_LIST_SHARE * total


def _words_found(found: tuple[str, str] | None) -> int:
    return word_count(found[1]) if found else -1


# -- related-link boxes ------------------------------------------------------------------------

# Headings of the boxes Vietnamese news sites put in and around the article (lower case, NFC).
RELATED_BOX_LABELS = frozenset(
    {
        "tin liên quan",
        "bài liên quan",
        "tin bài liên quan",
        "bài viết liên quan",
        "xem thêm",
        "đọc thêm",
        "có thể bạn quan tâm",
        "bạn có thể quan tâm",
        "có thể bạn muốn xem",
        "tin cùng chuyên mục",
        "cùng chuyên mục",
        "bài cùng chuyên mục",
        "tin khác",
        "các tin khác",
        "tin mới hơn",
        "tin cũ hơn",
        "đọc nhiều",
        "đọc nhiều nhất",
        "tin đọc nhiều",
        "xem nhiều",
        "xem nhiều nhất",
        "tin xem nhiều",
    }
)
# The feed sanitiser's markers minus "read more": on whole pages it also names article bodies
# (WordPress's `entry-content-read-more` holds the full text of two benchmark pages).
_UNSAFE_ON_PAGES = frozenset({"readmore", "read-more"})
# Class, id, data-role and type values that mark a box: the feed sanitiser's markers (VnExpress
# `box-tinlienquanv2`, `.related-news`, `.relationnews`...) and the page-level ones: Tuổi Trẻ's
# and Thanh Niên's `type="RelatedNewsBox"`, Dân trí's `box-samecat`, most-read lists.
PAGE_BOX_MARKERS = (
    *(m for m in RELATED_BOX_MARKERS if m not in _UNSAFE_ON_PAGES),
    "relate",
    "samecat",
    "same-cat",
    "cungchuyenmuc",
    "cung-chuyen-muc",
    "tinkhac",
    "tin-khac",
    "docnhieu",
    "doc-nhieu",
    "xemnhieu",
    "xem-nhieu",
    "mostread",
    "most-read",
    "quantam",
    "quan-tam",
)
_MARKED_ATTRIBUTES = ("class", "id", "data-role", "type", "data-type")
# Pages have thousands of elements and a handful of boxes, so candidates are found by libxml2
# (attribute values, short text nodes) and only those become Python elements.
_ATTRIBUTE_VALUES = {
    name: etree.XPath(f"//body//@{name}", smart_strings=False) for name in _MARKED_ATTRIBUTES
}
_SHORT_TEXTS = etree.XPath(
    "//body//text()[string-length() <= $limit][normalize-space()]", smart_strings=False
)
_SHORT_TEXT_NODES = etree.XPath("//body//text()[string-length() <= $limit][normalize-space()]")
_ANCHOR_TEXTS = etree.XPath("//body//a//text()[normalize-space()]", smart_strings=False)
# A text whose lines are mostly whole link texts is a list of headlines, not an article.
_LINK_LIST_SHARE = 0.5
_NOT_HIDDEN = (
    "[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]"
)
_TEXTS = etree.XPath(f"descendant::text(){_NOT_HIDDEN}", smart_strings=False)
_LINK_TEXTS = etree.XPath(f"descendant-or-self::a//text(){_NOT_HIDDEN}", smart_strings=False)
_LABEL_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong", "b", "em", "i", "a"}
    | {"header", "label", "li", "dt", "section", "aside", "legend", "summary", "figcaption"}
)
# Where pruning stops: the page itself and what certainly holds the article.
_NEVER_MARKED = frozenset({"html", "body", "main", "head"})
# A box found from its heading never grows past the article that holds it.
_NEVER_BOX = _NEVER_MARKED | {"article"}
_LABEL_PUNCTUATION = " \t\n\r:：»«>|–—-•·.…\u00a0"
_LABEL_MAX_WORDS = 6
_LABEL_MAX_CHARS = 48
# A box is mostly link text: its headlines (and their teasers, often linked too).
_LINK_SHARE = 0.6
# A marked element needs this much link text too: a class name alone can mislead.
_MARKED_LINK_SHARE = 0.3
# Levels climbed from a label to the box that holds it.
_MAX_CLIMB = 4


class _Counts:
    """Words and linked words under an element (its own tail aside), counted on demand."""

    def __init__(self) -> None:
        self._memo: dict[etree._Element, tuple[int, int]] = {}

    def __call__(self, element: etree._Element) -> tuple[int, int]:
        counted = self._memo.get(element)
        if counted is None:
            words = sum(len(text.split()) for text in _TEXTS(element))
            linked = sum(len(text.split()) for text in _LINK_TEXTS(element))
            counted = self._memo[element] = (words, linked)
        return counted

    def words(self, element: etree._Element) -> int:
        return self(element)[0]

    def link_share(self, element: etree._Element, minus: etree._Element | None = None) -> float:
        words, linked = self(element)
        if minus is not None:
            words -= self(minus)[0]
            linked -= self(minus)[1]
        return linked / words if words > 0 and linked > 0 else 0.0


def remove_related_boxes(tree: HtmlElement) -> int:
    """Cut the related-link boxes out of a parsed page (NFC text), in place; returns how many.

    A box is an element whose class, id, data-role or type names it (`PAGE_BOX_MARKERS`) and
    that holds some links, or the link-dominated block around a heading that names it
    (`RELATED_BOX_LABELS`: "Tin liên quan", "Xem thêm: <a>…</a>", "Có thể bạn quan tâm", …),
    or, when the heading stands alone in the body, the heading and the link blocks after it."""
    counts = _Counts()
    doomed: list[etree._Element] = []
    boxes = 0

    def add(box: list[etree._Element]) -> None:
        nonlocal boxes
        box = [e for e in box if not any(e is d or _is_descendant(e, d) for d in doomed)]
        if box:
            doomed.extend(box)
            boxes += 1

    for element in _marked_elements(tree):
        if element.tag in _NEVER_MARKED or element.tag in _INVISIBLE:
            continue
        if counts.words(element) == 0 or counts.link_share(element) >= _MARKED_LINK_SHARE:
            add([element])
    for element in _label_elements(tree):
        if _is_label(element, counts):
            add(_box_around(element, counts))
    for element in doomed:
        if element.getparent() is not None:
            _drop(element)
    return boxes


def _marked_elements(tree: HtmlElement) -> list[etree._Element]:
    """Elements whose class, id, data-role or type holds a box marker, outermost only."""
    tests = []
    for name, values in _ATTRIBUTE_VALUES.items():
        for value in sorted(_values_with_marker(values(tree))):
            literal = _xpath_literal(value)
            if literal:
                tests.append(f"@{name}={literal}")
    if not tests:
        return []
    found = tree.xpath(f"//body//*[{' or '.join(tests)}]")
    chosen = set(found)
    return [e for e in found if not any(a in chosen for a in e.iterancestors())]


def _values_with_marker(values: list[str]) -> set[str]:
    # All the values joined (NUL cannot occur in an attribute) and searched with str.find: a
    # regular expression over them costs more than the rest of the pruning together.
    joined = "\0".join(values)
    lowered = joined.lower()
    if len(lowered) != len(joined):  # a letter whose lower case is longer: search as is
        lowered = joined
    found = set()
    for marker in PAGE_BOX_MARKERS:
        position = lowered.find(marker)
        while position >= 0:
            start = joined.rfind("\0", 0, position) + 1
            end = joined.find("\0", position)
            end = len(joined) if end < 0 else end
            found.add(joined[start:end])
            position = lowered.find(marker, end)
    return found


def _xpath_literal(value: str) -> str | None:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def _label_elements(tree: HtmlElement) -> Iterator[etree._Element]:
    """Elements with a short text that names a box."""
    if not any(_names_box(text) for text in _SHORT_TEXTS(tree, limit=_LABEL_MAX_CHARS)):
        return
    for text in _SHORT_TEXT_NODES(tree, limit=_LABEL_MAX_CHARS):
        if not _names_box(text):
            continue
        element = text.getparent()
        if text.is_tail:
            element = element.getparent()
        if element is not None and element.tag in _LABEL_TAGS:
            yield element


def _is_descendant(element: etree._Element, ancestor: etree._Element) -> bool:
    return any(parent is ancestor for parent in element.iterancestors())


def _is_label(element: etree._Element, counts: _Counts) -> bool:
    """The element's whole text is a box heading, or it starts with one and links follow
    ("<p>Xem thêm: <a>…</a></p>")."""
    if len(element):
        # The leading text: the element's own, or what follows a leading <img> or <br>.
        lead = element.text if (element.text or "").strip() else element[0].tail
        if lead and _names_box(lead):
            return True
    if 0 < counts.words(element) <= _LABEL_MAX_WORDS:
        return _names_box(element.text_content())
    return False


def _names_box(text: str) -> bool:
    if len(text) > _LABEL_MAX_CHARS:
        return False
    return " ".join(text.lower().split()).strip(_LABEL_PUNCTUATION) in RELATED_BOX_LABELS


def _box_around(label: etree._Element, counts: _Counts) -> list[etree._Element]:
    """The largest link-dominated block holding the label, climbing a few levels; when the
    label's own block is not one, the label and the link blocks that follow it."""
    # The heading is the outermost element whose text is just the label (<h3><span>…).
    while (
        label.getparent() is not None
        and label.getparent().tag not in _NEVER_BOX
        and counts.words(label.getparent()) == counts.words(label)
    ):
        label = label.getparent()
    box = label if counts.link_share(label) >= _LINK_SHARE else None
    node = label
    for _ in range(_MAX_CLIMB):
        parent = node.getparent()
        if parent is None or parent.tag in _NEVER_BOX:
            break
        if counts.link_share(parent, minus=label) < _LINK_SHARE:
            break
        box = node = parent
    if box is not None:
        return [box]
    following = []
    sibling = label.getnext()
    while sibling is not None and counts.link_share(sibling) >= _LINK_SHARE:
        following.append(sibling)
        sibling = sibling.getnext()
    return [label, *following] if following else []


def _drop(element: etree._Element) -> None:
    """Remove the element but keep the text that follows it (its tail) in place."""
    parent = element.getparent()
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title"})


def _has_visible_text(tree: HtmlElement) -> bool:
    body = tree.find(".//body")
    root = body if body is not None else tree
    for element in root.iter():
        visible = isinstance(element.tag, str) and element.tag not in _INVISIBLE
        if visible and element.text and element.text.strip():
            return True
        if element is not root and element.tail and element.tail.strip():
            return True
    return False


# -- metadata ----------------------------------------------------------------------------------


def page_metadata(
    tree: HtmlElement, url: str, site_timezone: tzinfo = SITE_TIMEZONE
) -> PageMetadata:
    """What the page says about itself in <head> (Open Graph, article:*, Dublin Core, <link
    rel=canonical>, <html lang>) and in schema.org JSON-LD; visible text is not searched."""
    base = url
    base_href = tree.find(".//base[@href]")
    if base_href is not None:
        base = urljoin(url, base_href.get("href", "").strip())
    meta: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or ""
        key = key.strip().lower()
        content = element.get("content") or element.get("datetime")
        if key and content and content.strip() and key not in meta:
            meta[key] = content.strip()
    ld = _json_ld(tree)

    def first(*keys: str) -> str | None:
        for key in keys:
            if meta.get(key):
                return meta[key]
        return None

    canonical = None
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel and link.get("href"):
            canonical = _absolute(base, link.get("href", ""))
            break
    image = _absolute(base, first("og:image", "og:image:url", "og:image:secure_url") or "")
    if image is None:
        image = _absolute(base, first("twitter:image", "twitter:image:src") or ld.image or "")
    published = _date(
        first("article:published_time", "datepublished", "pubdate", "publishdate")
        or ld.published
        or first("dc.date.issued", "dcterms.created", "dc.date", "date", "og:published_time"),
        site_timezone,
    )
    updated = _date(
        first("article:modified_time", "datemodified", "og:updated_time", "lastmod")
        or ld.updated
        or first("dcterms.modified", "last-modified"),
        site_timezone,
    )
    if published and updated and updated <= published:
        updated = None
    author = _author(first("author", "article:author", "dc.creator", "dcterms.creator")) or (
        ld.author
    )
    title = clean_text(first("og:title", "twitter:title") or ld.headline or "") or None
    if title is None:
        heading = tree.find(".//title")
        title = clean_text(heading.text_content()) if heading is not None else None
    html_lang = tree.get("lang") or tree.get("xml:lang")
    declared = html_lang or first("content-language", "og:locale", "language", "dc.language")
    return PageMetadata(
        title=title or None,
        author=author,
        published=published,
        updated=updated,
        canonical_url=canonical,
        image=image,
        language=language_code(declared),
    )


@dataclass
class _LinkedData:
    headline: str | None = None
    author: str | None = None
    published: str | None = None
    updated: str | None = None
    image: str | None = None


_ARTICLE_TYPES = ("article", "posting", "report", "webpage")


def _json_ld(tree: HtmlElement) -> _LinkedData:
    """The first article-like schema.org object of the page's JSON-LD scripts."""
    found = _LinkedData()
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        for item in _ld_items(data):
            kind = item.get("@type")
            kinds = " ".join(kind if isinstance(kind, list) else [str(kind)]).lower()
            if not any(t in kinds for t in _ARTICLE_TYPES):
                continue
            found.headline = found.headline or _ld_text(item.get("headline"))
            found.published = found.published or _ld_text(item.get("datePublished"))
            found.updated = found.updated or _ld_text(item.get("dateModified"))
            found.author = found.author or _ld_author(item.get("author"))
            found.image = found.image or _ld_image(item.get("image"))
    return found


def _ld_items(data: object) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _ld_items(entry)
    elif isinstance(data, dict):
        yield data
        if isinstance(data.get("@graph"), list):
            yield from _ld_items(data["@graph"])


def _ld_text(value: object) -> str | None:
    return clean_text(value) or None if isinstance(value, str) else None


def _ld_author(value: object) -> str | None:
    people = value if isinstance(value, list) else [value]
    names = []
    for person in people:
        name = person.get("name") if isinstance(person, dict) else person
        name = _author(name if isinstance(name, str) else None)
        if name and name not in names:
            names.append(name)
    return ", ".join(names) or None


def _ld_image(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _author(value: str | None) -> str | None:
    """A person's name; profile URLs (Facebook's article:author) are not names."""
    name = clean_text(value)
    if not name or "://" in name or name.startswith("www.") or len(name) > 200:
        return None
    return name


def _absolute(base: str, value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        resolved = urljoin(base, value)
        parts = urlsplit(resolved)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return resolved


def _date(value: str | None, site_timezone: tzinfo) -> datetime | None:
    """ISO 8601 (what pages use) or RFC 2822, as aware UTC; a time without an offset is the
    site's local time, and a bare date its midnight."""
    if not value:
        return None
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=site_timezone)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# -- bytes to text -----------------------------------------------------------------------------

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml", "text/xml"})
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _decode(page: bytes, content_type: str | None, max_bytes: int) -> str:
    """The HTML5 order: byte-order mark, the HTTP charset, a <meta> charset in the first
    kilobytes, then UTF-8 or trafilatura's guess."""
    for bom, encoding in _BOMS:
        if page.startswith(bom):
            return page[len(bom) :].decode(encoding, "replace")
    candidates = []
    header = _HEADER_CHARSET.search(content_type or "")
    if header:
        candidates.append(header.group(1))
    declared = _CHARSET.search(page[:4096])
    if declared:
        candidates.append(declared.group(1).decode("ascii", "ignore"))
    for encoding in candidates:
        try:
            return page.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return decode_file(page, max_bytes)


_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive"),
)
_FEED_ROOT = re.compile(r"<(rss|feed|rdf:RDF)[\s>]", re.I)


def _binary_kind(page: bytes) -> str | None:
    """What the first bytes say the page is, when that is a binary format."""
    head = page[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def _text_kind(text: str) -> str | None:
    """What the start of the decoded page says it is, when that is not HTML."""
    head = text[:2048].lstrip("\ufeff \t\r\n")
    if head[:1] in ("{", "["):
        return "JSON"
    lowered = head.lower()
    if lowered.startswith("<?xml") and _FEED_ROOT.search(head) and "<html" not in lowered:
        return "an RSS or Atom feed"
    if "<" not in text[:65536]:
        return "plain text"
    return None
