"""OPML 2.0's rules."""

from __future__ import annotations

from tests.support.feedrules.common import (
    EMAIL,
    ERROR,
    WARNING,
    Checker,
    _text,
)


class OpmlRules(Checker):
    # .. OPML ................................................................................
    def _opml(self, opml) -> None:
        self._expected(opml, {"version"})
        if opml.get("version") not in ("1.0", "1.1", "2.0"):
            self.log(ERROR, "InvalidOPMLVersion", opml, str(opml.get("version")))
        head, body = opml.find("head"), opml.find("body")
        if head is None:
            self.log(ERROR, "MissingElement", opml, "head")
        else:
            for child in head:
                if child.tag in ("dateCreated", "dateModified"):
                    self.rfc822(child, _text(child))
                elif child.tag in ("title", "ownerName"):
                    self.safe_html(child, _text(child))
                elif child.tag == "ownerEmail" and not EMAIL.match(_text(child)):
                    self.log(ERROR, "InvalidAddrSpec", child)
                elif child.tag == "ownerId":
                    self.http_url(child, _text(child))
        if body is None or body.find("outline") is None:
            self.log(ERROR, "MissingElement", opml, "body/outline")
            return
        for outline in body.iter("outline"):
            self._outline(outline, opml.get("version", ""))

    def _outline(self, outline, version: str) -> None:
        self._expected(
            outline,
            {
                "category",
                "created",
                "description",
                "htmlUrl",
                "isBreakpoint",
                "isComment",
                "language",
                "text",
                "title",
                "type",
                "url",
                "version",
                "xmlUrl",
            },
        )
        attrs = outline.attrib
        if "text" not in attrs:
            self.log(ERROR, "MissingAttribute", outline, "text")
        kind = attrs.get("type", "").lower()
        if kind == "rss":
            if "xmlUrl" not in attrs:
                self.log(WARNING, "MissingXmlURL", outline)
            if "title" not in attrs:
                self.log(WARNING, "MissingTitleAttr", outline)
        elif kind == "link":
            if "url" not in attrs:
                self.log(WARNING, "MissingUrlAttr", outline)
        elif kind and version.startswith("1."):
            self.log(WARNING, "InvalidOutlineType", outline, kind)
        if "version" in attrs and attrs["version"] not in ("RSS", "RSS1", "RSS2", "scriptingNews"):
            self.log(WARNING, "InvalidOutlineVersion", outline, attrs["version"])
        if (
            len(attrs) > 1
            and "type" not in attrs
            and any(
                a in attrs
                for a in ("description", "htmlUrl", "language", "title", "version", "xmlUrl")
            )
        ):
            self.log(WARNING, "MissingOutlineType", outline)
        if "created" in attrs:
            self.rfc822(outline, attrs["created"])
        for name in ("description", "title", "text"):
            if name in attrs:
                self.safe_html(outline, attrs[name])
        for name in ("htmlUrl", "url"):
            if name in attrs:
                self.full_uri(outline, attrs[name])
        if "language" in attrs:
            self._language(outline, attrs["language"])
        if (outline.text or "").strip():
            self.log(ERROR, "UnexpectedText", outline)
