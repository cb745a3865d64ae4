"""Safe HTML for storage, and plain text for reading and for similarity.

nh3 (ammonia) does the sanitising with the allow-list in feeds/common/allowlist.py (which the
feeds quantam publishes share): no script, style, event attributes or javascript: URLs survive.
Plain text comes from one pass over the sanitised HTML, which also yields the "index text": the
same text without the related-link boxes that news sites put inside bodies (VnExpress
`box-tinlienquanv2`, `.related-news`, `.relationnews`, or a bare list of links like Thanh Niên's),
so that an article is not judged similar to its editor-picked neighbours merely because it
quotes their headlines.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

from feeds.common.allowlist import OPTIONS
from feeds.ingest.text import clean_text, nfc

_CLEANER = nh3.Cleaner(**OPTIONS)

# Class names (substrings) and data-role values that mark in-body related-link boxes.
RELATED_BOX_MARKERS = (
    "tinlienquan",
    "tin-lien-quan",
    "related",
    "relation",
    "lienquan",
    "xemthem",
    "xem-them",
    "box-tin",
    "readmore",
    "read-more",
)
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "blockquote",
    "section",
    "article",
    "figure",
    "figcaption",
    "header",
    "footer",
    "pre",
    "dd",
    "dt",
    "hr",
    "aside",
    "main",
    "details",
    "summary",
}
# Table cells are separated by a space, so "<td>1</td><td>Kyle Busch</td>" is not "1Kyle Busch".
_CELL = {"td", "th"}
_VOID = {"br", "img", "hr", "wbr", "col", "area", "source", "input", "meta", "link"}
_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)


def sanitize_html(raw: str) -> str:
    """Allow-listed HTML: safe to store, republish in feeds and show in the embed.

    The result is NFC, like all text quantam stores. Absurdly deep nesting (a hostile feed's
    thousands of nested divs) makes HTML tree building quadratic, so such content is kept as
    plain text instead."""
    if not raw:
        return ""
    if _too_deep(raw):
        text = clean_text(html.unescape(_ANY_TAG.sub(" ", raw)))
        return f"<p>{html.escape(text, quote=False)}</p>"
    return nfc(_CLEANER.clean(raw))


# Containers whose nesting costs the tree builder; inline tags are cheap at any depth.
_NESTING = {
    "div",
    "section",
    "article",
    "aside",
    "blockquote",
    "table",
    "tbody",
    "tr",
    "td",
    "ul",
    "ol",
    "li",
    "figure",
    "main",
    "header",
    "footer",
    "nav",
    "dl",
    "dd",
    "form",
    "fieldset",
}
MAX_NESTING = 256
_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)")
_ANY_TAG = re.compile(r"<[^>]*>?")


def _too_deep(raw: str) -> bool:
    if raw.count("<") < MAX_NESTING:
        return False
    depth = 0
    for match in _TAG.finditer(raw):
        if match.group(2).lower() not in _NESTING:
            continue
        depth += -1 if match.group(1) else 1
        if depth > MAX_NESTING:
            return True
    return False


@dataclass(frozen=True)
class Texts:
    text: str
    index_text: str


def extract_texts(safe_html: str) -> Texts:
    """Plain text of sanitised HTML (paragraphs on their own lines), with and without
    related-link boxes."""
    if not safe_html:
        return Texts("", "")
    if "<" not in safe_html:
        plain = clean_text(html.unescape(safe_html), multiline=True)
        return Texts(plain, plain)
    parser = _TextParser()
    parser.feed(safe_html)
    parser.close()
    text = clean_text("".join(parser.all_parts), multiline=True)
    index = clean_text("".join(parser.index_parts), multiline=True)
    return Texts(text, index)


def first_image(safe_html: str) -> str | None:
    match = _IMG_SRC.search(safe_html)
    return html.unescape(match.group(1)) if match else None


def _is_box(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    for name, value in attrs:
        if name in ("class", "data-role", "id") and value:
            lowered = value.lower()
            if any(marker in lowered for marker in RELATED_BOX_MARKERS):
                return True
    return False


class _TextParser(HTMLParser):
    """Collects text twice: everything, and everything outside related-link boxes.

    A box is an element whose class marks it as related links, or a list whose every item is
    nothing but a link (the shape every site's "more on this" list takes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.all_parts: list[str] = []
        self.index_parts: list[str] = []
        # Depth inside a marked box; text there goes only to all_parts.
        self._box_depth = 0
        self._stack: list[str] = []
        # Open lists being judged: [parts collected, every item so far only a link?]
        self._lists: list[_ListState] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit(" ")
        if tag in _VOID:
            if tag == "img":
                alt = dict(attrs).get("alt")
                if alt and self._lists:
                    self._lists[-1].note_text(alt, in_link=self._in_link())
            return
        self._stack.append(tag)
        if self._box_depth:
            self._box_depth += 1
        elif _is_box(tag, attrs):
            self._box_depth = 1
        if tag in ("ul", "ol") and not self._box_depth:
            self._lists.append(_ListState(len(self._stack)))
        elif tag == "li" and self._lists:
            self._lists[-1].items += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self._stack:
            return
        while self._stack:
            open_tag = self._stack.pop()
            if self._box_depth:
                self._box_depth -= 1
            if self._lists and self._lists[-1].depth == len(self._stack) + 1:
                self._close_list()
            if open_tag == tag:
                break
        if tag in _BLOCK:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not data:
            return
        if self._lists and not self._box_depth:
            self._lists[-1].note_text(data, in_link=self._in_link())
        self._emit(data)

    def close(self) -> None:
        super().close()
        while self._lists:
            self._close_list()

    def _in_link(self) -> bool:
        return "a" in self._stack[self._lists[-1].depth :] if self._lists else False

    def _emit(self, data: str) -> None:
        self.all_parts.append(data)
        if self._box_depth:
            return
        if self._lists:
            self._lists[-1].parts.append(data)
        else:
            self.index_parts.append(data)

    def _close_list(self) -> None:
        state = self._lists.pop()
        if state.is_link_list:
            return
        target = self._lists[-1].parts if self._lists else self.index_parts
        target.extend(state.parts)


class _ListState:
    def __init__(self, depth: int):
        self.depth = depth
        self.parts: list[str] = []
        self.items = 0
        self.has_link_text = False
        self.has_plain_text = False

    def note_text(self, data: str, in_link: bool) -> None:
        if not data.strip():
            return
        if in_link:
            self.has_link_text = True
        else:
            self.has_plain_text = True

    @property
    def is_link_list(self) -> bool:
        return self.items > 0 and self.has_link_text and not self.has_plain_text
