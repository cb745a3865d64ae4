"""Atom 1.0's rules, with Media RSS."""

from __future__ import annotations

from lxml import etree

from tests.support.feedrules.common import (
    ATOM,
    DC,
    EMAIL,
    ERROR,
    MEDIA,
    MIME,
    WARNING,
    Checker,
    _canonical_uri,
    _text,
)


class AtomRules(Checker):
    # .. Atom 1.0 ............................................................................
    def _atom_feed(self, feed) -> None:
        self._expected(feed, set())
        metadata = {
            "author",
            "category",
            "contributor",
            "generator",
            "icon",
            "id",
            "link",
            "logo",
            "rights",
            "subtitle",
            "title",
            "updated",
        }
        self.duplicates(
            feed,
            {
                f"{{{ATOM}}}{n}": "DuplicateElement"
                for n in (
                    "generator",
                    "icon",
                    "id",
                    "logo",
                    "rights",
                    "subtitle",
                    "title",
                    "updated",
                )
            },
        )
        links: list[dict[str, str]] = []
        seen_entry = False
        feed_has_author = feed.find(f"{{{ATOM}}}author") is not None
        ids: set[str] = set()
        updated: set[str] = set()
        for child in feed:
            if not isinstance(child.tag, str):
                continue
            namespace, name = etree.QName(child).namespace, etree.QName(child).localname
            if namespace == ATOM and name == "entry":
                seen_entry = True
                self._entry(child, feed_has_author, ids, updated)
                continue
            if seen_entry:
                self.log(ERROR, "MisplacedMetadata", child, name)
            if namespace == ATOM and name not in metadata:
                self.log(ERROR, "UndefinedElement", child)
            elif namespace == ATOM:
                self._atom_metadata(child, name, links)
            elif namespace == MEDIA:
                self.media(child)
            elif namespace == DC:
                self._dc(child, feed)
            elif namespace is None:
                self.log(ERROR, "UndefinedElement", child)
        for name in ("id", "title", "updated"):
            if feed.find(f"{{{ATOM}}}{name}") is None:
                self.log(ERROR, "MissingElement", feed, name)
        if not any(link["rel"] == "self" for link in links):
            self.log(WARNING, "MissingSelf", feed)
        seen: set[tuple[str, str, str]] = set()
        for link in links:
            key = (link["rel"], link["type"], link["hreflang"])
            if key in seen:
                self.log(ERROR, "DuplicateAtomLink", feed, str(key))
            seen.add(key)
        if not seen_entry and not feed_has_author:
            self.log(ERROR, "MissingElement", feed, "author")

    def _atom_metadata(self, child, name: str, links: list[dict[str, str]]) -> None:
        value = _text(child)
        if name == "id":
            self._atom_id(child, value)
        elif name == "updated":
            self._expected(child, set())
            self._nows(child)
            self.rfc3339(child, value)
        elif name == "link":
            self.atom_link(child, links, "feed")
        elif name in ("title", "subtitle", "rights"):
            self.text_construct(child)
        elif name in ("author", "contributor"):
            self._person(child)
        elif name == "category":
            self._category(child)
        elif name == "generator":
            self._expected(child, {"uri", "version"})
            self.nonblank(child, value)
            if child.get("uri") is not None:
                self._iri(child, child.get("uri"))
        elif name in ("icon", "logo"):
            self._expected(child, set())
            self.nonblank(child, value)
            self._nows(child)
            self._iri(child, value)

    def _nows(self, element) -> None:
        text = element.text or ""
        if text != text.strip():
            self.log(ERROR, "UnexpectedWhitespace", element)

    def _atom_id(self, element, value: str) -> None:
        self._expected(element, set())
        self._nows(element)
        if self.full_uri(element, value):
            canonical = _canonical_uri(value)
            if canonical != value:
                self.log(WARNING, "NonCanonicalURI", element, f"{value} -> {canonical}")

    def _entry(self, entry, feed_has_author: bool, ids: set[str], updated_values: set[str]) -> None:
        self._expected(entry, set())
        self.duplicates(
            entry,
            {
                f"{{{ATOM}}}{n}": "DuplicateElement"
                for n in (
                    "content",
                    "id",
                    "published",
                    "rights",
                    "source",
                    "summary",
                    "title",
                    "updated",
                )
            },
        )
        known = {
            "author",
            "category",
            "content",
            "contributor",
            "id",
            "link",
            "published",
            "rights",
            "source",
            "summary",
            "title",
            "updated",
        }
        links: list[dict[str, str]] = []
        content = None
        for child in entry:
            if not isinstance(child.tag, str):
                continue
            namespace, name = etree.QName(child).namespace, etree.QName(child).localname
            value = _text(child)
            if (namespace == ATOM and name not in known) or namespace is None:
                self.log(ERROR, "UndefinedElement", child)
            elif namespace == ATOM:
                if name == "id":
                    self._atom_id(child, value)
                    if value in ids:
                        self.log(WARNING, "DuplicateEntries", child, value)
                    ids.add(value)
                elif name in ("updated", "published"):
                    self._expected(child, set())
                    self._nows(child)
                    self.rfc3339(child, value)
                    if name == "updated":
                        if value in updated_values:
                            self.log(WARNING, "DuplicateUpdated", child, value)
                        updated_values.add(value)
                elif name == "link":
                    self.atom_link(child, links, "entry")
                elif name in ("title", "summary", "rights"):
                    self.text_construct(child)
                elif name == "content":
                    content = child
                    self.text_construct(child, is_content=True)
                elif name in ("author", "contributor"):
                    self._person(child)
                elif name == "category":
                    self._category(child)
            elif namespace == MEDIA:
                self.media(child)
            elif namespace == DC:
                self._dc(child, entry)
        present = {
            etree.QName(c).localname
            for c in entry
            if isinstance(c.tag, str) and etree.QName(c).namespace == ATOM
        }
        for name in ("title", "id", "updated"):
            if name not in present:
                self.log(ERROR, "MissingElement", entry, name)
        if "author" not in present and not feed_has_author:
            self.log(ERROR, "MissingElement", entry, "author")
        if content is not None:
            content_type = content.get("type", "text")
            if "summary" not in present and (
                content.get("src") is not None
                or (
                    "/" in content_type
                    and not (
                        content_type.endswith(("+xml", "/xml")) or content_type.startswith("text/")
                    )
                )
            ):
                self.log(ERROR, "MissingSummary", entry)
        else:
            if "summary" not in present:
                self.log(WARNING, "MissingTextualContent", entry)
            if not any(link["rel"] == "alternate" for link in links):
                self.log(ERROR, "MissingContentOrAlternate", entry)
        alternates: set[tuple[str, str]] = set()
        for link in links:
            if link["rel"] != "alternate":
                continue
            key = (link["type"], link["hreflang"])
            if key in alternates:
                self.log(ERROR, "DuplicateAtomLink", entry, str(key))
            alternates.add(key)

    def text_construct(self, element, is_content: bool = False) -> None:
        self._expected(element, {"type", "src"} if is_content else {"type"})
        kind = element.get("type", "text")
        value = element.text or ""
        if not element.get("type", "x"):
            self.log(WARNING, "AttrNotBlank", element, "type")
        if kind in ("text", "html", "xhtml"):
            pass
        elif not is_content or "/" not in kind:
            self.log(ERROR, "InvalidTextType", element, kind)
            return
        elif not MIME.match(kind):
            self.log(ERROR, "InvalidMIMEType", element, kind)
        if kind == "html" or kind.endswith("/html"):
            self.safe_html(element, value)
        elif kind == "text":
            self.nonhtml(element, value, "ContainsUndeclaredHTML")
            for child in element:
                self.log(ERROR, "UndefinedElement", child)
        elif kind == "xhtml":
            divs = [c for c in element if c.tag == "{http://www.w3.org/1999/xhtml}div"]
            if len(divs) != 1:
                self.log(ERROR, "MissingXhtmlDiv", element)
        if not value.strip() and len(element) == 0 and element.get("src") is None:
            self.log(WARNING, "NotBlank", element)

    def _person(self, person) -> None:
        self._expected(person, set())
        names = person.findall(f"{{{ATOM}}}name")
        if not names:
            self.log(ERROR, "MissingElement", person, "name")
        for child in person:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if etree.QName(child).namespace != ATOM:
                continue
            if name == "name":
                self.nonblank(child, _text(child))
                self.nonhtml(child, _text(child))
            elif name == "email":
                if not EMAIL.match(_text(child)):
                    self.log(ERROR, "InvalidAddrSpec", child, _text(child))
            elif name == "uri":
                self._iri(child, _text(child))
            else:
                self.log(ERROR, "UndefinedElement", child)

    def _category(self, category) -> None:
        self._expected(category, {"term", "scheme", "label"})
        if category.get("term") is None:
            self.log(ERROR, "MissingAttribute", category, "term")
        else:
            self.nonblank(category, category.get("term"), "AttrNotBlank")
        if category.get("scheme") is not None:
            self._iri(category, category.get("scheme"))
        if category.get("label") is not None:
            self.nonhtml(category, category.get("label"))
