"""The W3C Feed Validation Service's rules for the feeds quantam publishes, checked offline.

The validator itself (w3c/feedvalidator) cannot be installed here: it is published on none of
PyPI, npm or Debian, and it fetches nothing but URLs. This module re-implements its documented
rules (https://validator.w3.org/feed/docs/) for everything quantam's RSS 2.0, Atom 1.0 and OPML
documents can contain: RSS core elements and the content, Dublin Core, Media RSS and Atom
namespaces in RSS; Atom 1.0 with Media RSS; OPML 2.0. Each finding is named after the
validator's own message (MissingGuid, DuplicateUpdated, ContainsRelRef, ...) and carries its
level, so "no errors and no warnings" here means the same as on validator.w3.org for these
documents. It is written independently of the validator's code; the HTML checks use html5lib in
strict mode as the validator does. JSON Feed has no W3C validator: `check_json_feed` checks the
JSON Feed 1.1 specification's requirements.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.entities import name2codepoint
from urllib.parse import urljoin, urlsplit

import html5lib
from html5lib.html5parser import ParseError
from lxml import etree


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ERROR = "error"
WARNING = "warning"

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
SY = "http://purl.org/rss/1.0/modules/syndication/"
XML = "http://www.w3.org/XML/1998/namespace"

# Namespaces the validator knows, with the prefix it expects for each.
KNOWN_NAMESPACES = {
    ATOM: "atom",
    CONTENT: "content",
    DC: "dc",
    "http://purl.org/dc/terms/": "dcterms",
    MEDIA: "media",
    SY: "sy",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://wellformedweb.org/CommentAPI/": "wfw",
    "http://www.georss.org/georss": "georss",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://purl.org/syndication/history/1.0": "fh",
    "http://purl.org/syndication/thread/1.0": "thr",
    "http://www.w3.org/1999/xhtml": "xhtml",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://purl.org/rss/1.0/": "rss1",
    XML: "xml",
}

ISO_639_1 = _words(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
    hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
    lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
    or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
    ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"""
)

# HTML the validator knows, and the subset it accepts in feed content without a security warning.
HTML_TAGS = _words(
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo big
    blockquote body br button canvas caption center cite code col colgroup command comment data
    datagrid datalist dd del details dfn dialog dir div dl dt em embed eventsource fieldset
    figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr
    html i iframe img input ins isindex kbd label legend li link listing m main map mark menu
    meta meter nav noframes noscript object ol optgroup option output p param picture plaintext
    pre progress q rp rt ruby s samp script section select slot small source span strike strong
    style sub summary sup table tbody td template textarea tfoot th thead time title tr track tt
    u ul var video wbr xmp"""
)
SAFE_TAGS = HTML_TAGS - _words(
    """applet base basefont bdo body comment embed frame frameset head html iframe isindex link
    listing meta noframes object param plaintext script slot style title xmp"""
) | frozenset(["keygen", "multicol", "nextid", "sound", "spacer"])
SAFE_ATTRIBUTES = _words(
    """abbr accept accept-charset accesskey action align allow allowfullscreen allowpaymentrequest
    alt as autocapitalize autocomplete autofocus autoplay axis background balance bgcolor
    bgproperties border bordercolor bordercolordark bordercolorlight bottompadding cellpadding
    cellspacing ch challenge char charoff charset checked choff cite class clear color cols
    colspan compact contenteditable coords crossorigin data datafld datapagesize datasrc
    datetime decoding default delay dir dirname disabled download draggable dynsrc end enctype
    enterkeyhint face for form formenctype frame galleryimg gutter headers height hidden
    hidefocus high href hreflang hspace icon id inputmode is ismap itemid itemprop itemref
    itemscope itemtype keytype kind label lang leftspacing list loading longdesc loop loopcount
    loopend loopstart low lowsrc max maxlength media method min minlength multiple muted name
    nohref nonce noshade nowrap open optimum pattern ping placeholder playsinline point-size
    poster preload prompt pqg radiogroup readonly referrerpolicy rel repeat-max repeat-min
    replace required rev reversed rightspacing rows rowspan rules scope selected shape size
    sizes span spellcheck src srclang srcset start step summary suppress tabindex target
    template title toppadding translate type unselectable urn usemap valign value variable
    volume vrml vspace width wrap xml:lang xmlns"""
)
SAFE_CSS = _words(
    """azimuth background background-color border border-bottom border-bottom-color
    border-bottom-style border-bottom-width border-collapse border-color border-left
    border-left-color border-left-style border-left-width border-right border-right-color
    border-right-style border-right-width border-spacing border-style border-top
    border-top-color border-top-style border-top-width border-width clear color cursor direction
    display elevation float font font-family font-size font-style font-variant font-weight
    height letter-spacing line-height list-style-type margin margin-bottom margin-left
    margin-right margin-top overflow padding padding-bottom padding-left padding-right
    padding-top pause pause-after pause-before pitch pitch-range richness speak speak-header
    speak-numeral speak-punctuation speech-rate stress text-align text-decoration text-indent
    unicode-bidi vertical-align voice-family volume white-space width"""
)

# Atom link relations the validator recognises (IANA registry as it knows it).
LINK_RELATIONS = _words(
    """alternate current describedby edit edit-media enclosure first hub last license next
    next-archive payment prev-archive previous related replies search self service up via"""
)
FEED_HISTORY_RELATIONS = frozenset(
    ["current", "first", "last", "next", "next-archive", "prev-archive", "previous"]
)

URI_CHARS = re.compile(r"[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]")
FULL_URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
HTTP_URL = re.compile(
    r"^(http|https)://(([0-9]{1,3}\.){3}|([A-Z0-9\-]+\.)+)[A-Z0-9][-A-Z0-9]*(:\d+)?(/|$)", re.I
)
MIME = re.compile(
    r"^[^\s()<>,;:\\\"/\[\]?=]+/[^\s()<>,;:\\\"/\[\]?=]+"
    r"(\s*;\s*[^\s()<>,;:\\\"/\[\]?=]+=(\"(\\\"|[^\"])*\"|[^\s()<>,;:\\\"/\[\]?=]+))*$"
)
RFC822 = re.compile(
    r"^((Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d(:\d\d)? ([+-]?\d\d[03]0|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z)$"
)
RFC822_LOOSE = re.compile(
    r"^((mon|tue|wed|thu|fri|sat|sun)\s*,\s*)?\d\d?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
    r"|nov|dec)\s+\d\d(\d\d)?\s+\d\d:\d\d(:\d\d)?\s+([+-]\d{4}|ut|gmt|[ecmp][sd]t|[a-ik-z])?$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|[+-]\d\d:\d\d)$")
URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{1,31}:([a-z0-9()+,.:=@;$_!*'\-]|%[0-9a-f]{2})+$", re.I)
UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.I)
TAG_URI = re.compile(
    r"^tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:"
    r"[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?$"
)
EMAIL = re.compile(r"^[A-Z0-9_\-+.']+@((\d{1,3}\.){3}|([A-Z0-9\-]+\.)+)[A-Z0-9][-A-Z0-9]*$", re.I)
HTML_END_TAG = re.compile(r"</(\w+)>")
ENTITY_LIKE = re.compile(r"&(#?\w+)")
MARKUP_LIKE = re.compile(r"&#[x0-9]|<[/a-zA-Z]")
ANCHOR_HREF = re.compile(r"<a\s+href=(?:\"(.*?)\"|'(.*?)'|([\w-]+))[\s>]", re.I)
IMG_SRC = re.compile(r"<img\s+[^>]*src=(?:\"(.*?)\"|'(.*?)'|([\w-]+))[\s>]", re.I)


@dataclass(frozen=True)
class Finding:
    level: str
    rule: str
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.level} {self.rule} at {self.where}: {self.detail}"


def problems(findings: list[Finding]) -> list[str]:
    """Errors and warnings as readable lines (what a test asserts is empty)."""
    return [str(f) for f in findings]


def check_feed(body: bytes, location: str, now: datetime | None = None) -> list[Finding]:
    """Findings for an RSS 2.0, Atom 1.0 or OPML document served at `location`."""
    checker = _Checker(body, location, now or datetime.now(UTC))
    return checker.run()


# -- XML documents ----------------------------------------------------------------------------


class _Checker:
    def __init__(self, body: bytes, location: str, now: datetime):
        self.body = body
        self.location = location
        self.now = now
        self.findings: list[Finding] = []
        self.lines = body.decode("utf-8", errors="replace").split("\n")
        self.kind = ""
        self.docs = ""

    def log(self, level: str, rule: str, element: etree._Element | None, detail: str = "") -> None:
        where = "document"
        if element is not None:
            where = f"line {element.sourceline} <{_qname(element)}>"
        self.findings.append(Finding(level, rule, where, detail))

    # .. document ..........................................................................
    def run(self) -> list[Finding]:
        declaration = re.match(rb"<\?xml[^>]*\?>", self.body)
        if declaration and not re.search(rb"version=[\"']1\.0[\"']", declaration.group()):
            self.log(ERROR, "BadXmlVersion", None, declaration.group().decode())
        if b"<!DOCTYPE" in self.body[:1024] or b"<!ENTITY" in self.body[:4096]:
            self.log(ERROR, "ContainsSystemEntity", None, "a DOCTYPE or entity declaration")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(self.body, parser)
        except etree.XMLSyntaxError as exc:
            self.log(ERROR, "SAXError", None, str(exc))
            return self.findings
        self._namespaces(root)
        for element in root.iter():
            lang = element.get(f"{{{XML}}}lang")
            if lang is not None:
                self._language(element, lang)
            if isinstance(element.tag, str):
                self._bad_characters(element)
        if root.tag == "rss":
            self.kind = "rss"
            self._rss(root)
        elif root.tag == f"{{{ATOM}}}feed":
            self.kind = "atom"
            self._atom_feed(root)
        elif root.tag == "opml":
            self.kind = "opml"
            self._opml(root)
        else:
            self.log(ERROR, "UndefinedElement", root, "not a feed document")
        return self.findings

    def _namespaces(self, root: etree._Element) -> None:
        declared: set[tuple[str | None, str]] = set()
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            parent_map = element.getparent().nsmap if element.getparent() is not None else {}
            for prefix, uri in element.nsmap.items():
                if parent_map.get(prefix) == uri or (prefix, uri) in declared:
                    continue
                declared.add((prefix, uri))
                self._namespace(element, prefix, uri, root)

    def _namespace(self, element: etree._Element, prefix: str | None, uri: str, root) -> None:
        standard_uris = {p: u for u, p in KNOWN_NAMESPACES.items()}
        if uri == "http://search.yahoo.com/mrss":
            self.log(ERROR, "MediaRssNamespace", element, "missing trailing slash")
        elif prefix in standard_uris and KNOWN_NAMESPACES.get(uri) != prefix:
            self.log(WARNING, "ReservedPrefix", element, f"{prefix} is {standard_uris[prefix]}")
        elif prefix in ("atom", "xhtml") and root.tag == f"{{{ATOM}}}feed" and element is not root:
            self.log(WARNING, "AvoidNamespacePrefix", element, prefix)
        elif uri not in KNOWN_NAMESPACES and not (prefix is None and uri == ATOM):
            self.log(WARNING, "UnknownNamespace", element, uri)

    def _bad_characters(self, element: etree._Element) -> None:
        texts = [element.text or "", *element.attrib.values()]
        if any(0x80 <= ord(c) <= 0x9F or c == "\ufffd" for text in texts for c in text):
            self.log(WARNING, "BadCharacters", element)

    def _language(self, element: etree._Element, value: str) -> None:
        primary = value.split("-", 1)[0].lower()
        if primary not in ISO_639_1 and not re.fullmatch(r"[a-z]{3}", primary):
            self.log(ERROR, "InvalidLanguage", element, value)

    # .. shared value rules ...................................................................
    def full_uri(self, element, value: str, rule: str = "InvalidFullLink") -> bool:
        value = value.strip()
        scheme = value.split(":", 1)[0].lower()
        if scheme == "tag":
            ok = bool(TAG_URI.match(value))
            if not ok:
                self.log(ERROR, "InvalidTAG", element, value)
            return ok
        if scheme == "urn":
            if value.lower().startswith("urn:uuid:") and not UUID_URN.match(value):
                self.log(ERROR, "InvalidUUID", element, value)
                return False
            if not URN.match(value):
                self.log(ERROR, "InvalidURN", element, value)
                return False
            return True
        if not FULL_URI.match(value):
            bad = next((c for c in value if ord(c) < 128 and not URI_CHARS.match(c)), None)
            if bad is not None:
                self.log(ERROR, "InvalidUriChar", element, f"{bad!r} in {value}")
            elif any(ord(c) >= 128 for c in value):
                self.log(ERROR, "UriNotIri", element, value)
            else:
                self.log(ERROR, rule, element, value)
            return False
        if scheme in ("http", "https", "ftp") and not re.match(r"^\w+://[^/].*", value):
            self.log(ERROR, rule, element, value)
            return False
        return True

    def http_url(self, element, value: str) -> None:
        if not HTTP_URL.match(value) or not FULL_URI.match(value):
            self.log(ERROR, "InvalidURLAttribute", element, value)

    def rfc822(self, element, value: str) -> None:
        if RFC822.match(value):
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                self.log(ERROR, "InvalidRFC2822Date", element, value)
                return
            try:
                stamp = datetime.fromtimestamp(email.utils.mktime_tz(parsed), UTC)
                weekday = datetime(*parsed[:3]).strftime("%a")
            except (ValueError, OverflowError):
                self.log(ERROR, "InvalidRFC2822Date", element, value)
                return
            if "," in value and value[:3] != weekday:
                self.log(ERROR, "IncorrectDOW", element, value)
            elif stamp.year < 1990 or stamp > self.now + timedelta(minutes=10):
                self.log(WARNING, "ImplausibleDate", element, value)
        elif RFC822_LOOSE.match(re.sub(r"\([^()]*\)", " ", value).strip().lower()):
            self.log(WARNING, "ProblematicalRFC822Date", element, value)
        else:
            self.log(ERROR, "InvalidRFC2822Date", element, value)

    def rfc3339(self, element, value: str) -> None:
        if not RFC3339.match(value):
            self.log(ERROR, "InvalidRFC3339Date", element, value)
            return
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.log(ERROR, "InvalidRFC3339Date", element, value)
            return
        if stamp.year < 1990 or stamp > self.now + timedelta(minutes=10):
            self.log(WARNING, "ImplausibleDate", element, value)

    def mime(self, element, value: str | None, rule: str = "InvalidMIMEAttribute") -> None:
        if value is None:
            self.log(ERROR, "MissingAttribute", element, "type")
        elif not MIME.match(value):
            self.log(ERROR, rule, element, value)

    def nonblank(self, element, value: str | None, rule: str = "NotBlank") -> None:
        if not (value or "").strip():
            self.log(WARNING, rule, element)

    def nonhtml(self, element, value: str, rule: str = "ContainsHTML") -> None:
        """Plain text must not look like markup; & and < in it must be character references
        in the source (the RSS Advisory Board profile the validator applies)."""
        tags = [t for t in HTML_END_TAG.findall(value) if t.lower() in HTML_TAGS]
        if tags:
            self.log(WARNING, rule, element, f"</{tags[0]}>")
            return
        entities = [
            e
            for e in ENTITY_LIKE.findall(value)
            if e in name2codepoint or e == "apos" or not e.isalpha()
        ]
        markup = MARKUP_LIKE.search(value) and self.kind == "rss"
        if (entities or markup) and not self._source_has_char_refs(element, value):
            self.log(WARNING, rule if entities else "CharacterData", element, value[:80])

    def _source_has_char_refs(self, element, value: str) -> bool:
        start = (element.sourceline or 1) - 1
        end = start + value.count("\n") + 1
        return any("&#x" in line for line in self.lines[start:end])

    def safe_html(self, element, value: str) -> None:
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            fragment = parser.parseFragment(value)
        except ParseError as exc:
            self.log(WARNING, "NotHtml", element, f"invalid HTML: {exc}")
            fragment = html5lib.HTMLParser(namespaceHTMLElements=False).parseFragment(value)
        for node in fragment.iter():
            if not isinstance(node.tag, str) or node.tag == "DOCUMENT_FRAGMENT":
                continue
            tag = node.tag.split("}")[-1].lower()
            if tag not in HTML_TAGS:
                self.log(WARNING, "NotHtml", element, f"non-HTML tag <{tag}>")
            elif tag not in SAFE_TAGS:
                self.log(WARNING, "SecurityRisk", element, f"<{tag}>")
            else:
                for name, attr_value in node.attrib.items():
                    name = name.lower() if isinstance(name, str) else str(name)
                    if name == "style":
                        if not _safe_style(attr_value):
                            self.log(WARNING, "DangerousStyleAttr", element, attr_value)
                    elif name not in SAFE_ATTRIBUTES and not name.startswith("data-"):
                        self.log(WARNING, "SecurityRiskAttr", element, f"{tag}@{name}")
        for match in [*IMG_SRC.findall(value), *ANCHOR_HREF.findall(value)]:
            ref = _decode_entities(next((m for m in match if m), "")).strip()
            if re.match(r"\w+:", ref):
                continue
            bad = next((c for c in ref if ord(c) < 128 and not URI_CHARS.match(c)), None)
            if bad is not None:
                self.log(ERROR, "InvalidUriChar", element, ref)
            else:
                self.log(WARNING, "ContainsRelRef", element, ref)

    def atom_link(self, element, links: list[dict[str, str]], parent: str) -> None:
        """parent: "feed" (a channel or Atom feed), "entry" (Atom) or "item" (RSS)."""
        attrs = {k: v for k, v in element.attrib.items() if not k.startswith("{")}
        self._expected(element, {"type", "title", "rel", "href", "length", "hreflang"})
        rel = attrs.get("rel", "alternate")
        if rel.startswith("http://www.iana.org/assignments/relation/"):
            rel = rel.rsplit("/", 1)[-1]
        if "rel" in attrs:
            if rel not in LINK_RELATIONS and not FULL_URI.match(rel):
                self.log(WARNING, "UnregisteredAtomLinkRel", element, rel)
            self.nonblank(element, attrs["rel"], "AttrNotBlank")
            if parent == "entry" and rel in FEED_HISTORY_RELATIONS:
                self.log(WARNING, "FeedHistoryRelInEntry", element, rel)
        if "type" in attrs:
            if not MIME.match(attrs["type"]):
                self.log(ERROR, "InvalidMIMEType", element, attrs["type"])
            elif rel == "self" and attrs["type"].split(";")[0] not in (
                "application/atom+xml",
                "application/rss+xml",
                "application/rdf+xml",
            ):
                self.log(WARNING, "SelfNotAtom", element, attrs["type"])
        if "title" in attrs:
            self.nonblank(element, attrs["title"], "AttrNotBlank")
            self.nonhtml(element, attrs["title"])
        if "length" in attrs and not re.fullmatch(r"\d+", attrs["length"].strip()):
            self.log(ERROR, "InvalidNonNegativeInteger", element, attrs["length"])
        if "hreflang" in attrs:
            self._language(element, attrs["hreflang"])
        href = attrs.get("href")
        if href is None:
            self.log(ERROR, "MissingHref", element)
        else:
            self._iri(element, href)
            if rel == "self" and parent == "feed":
                self._self(element, href)
        if (element.text or "").strip():
            self.log(WARNING, "AtomLinkNotEmpty", element)
        links.append(
            {"rel": rel, "type": attrs.get("type", ""), "hreflang": attrs.get("hreflang", "")}
        )

    def _iri(self, element, value: str) -> None:
        if any(ord(c) >= 128 for c in value):
            with contextlib.suppress(UnicodeError):
                value = value.encode("idna").decode("ascii")
        if not re.match(
            r"^([a-zA-Z][0-9a-zA-Z+\-.]*:)?/{0,2}(\[[0-9A-Fa-f:]+\])?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]*$",
            value,
        ):
            self.log(ERROR, "InvalidIRI", element, value)

    def _self(self, element, href: str) -> None:
        if not urlsplit(href).netloc:
            self.log(WARNING, "RelativeSelf", element, href)
        if _uri_key(urljoin(self.location, href)) != _uri_key(self.location):
            self.log(WARNING, "SelfDoesntMatchLocation", element, f"{href} != {self.location}")

    def _expected(self, element, names: set[str]) -> None:
        """Attributes an element does not define are errors; xml:* is allowed everywhere, and
        an attribute in an unknown namespace only earns RSS core elements a warning (waived
        for feeds that point their docs at the RSS Advisory Board's specification)."""
        rss_core = self.kind == "rss" and etree.QName(element).namespace is None
        for name in element.attrib:
            namespace = name[1:].split("}")[0] if name.startswith("{") else None
            if namespace == XML or (namespace is None and name in names):
                continue
            if namespace is not None and namespace not in KNOWN_NAMESPACES:
                if rss_core and self.docs != "http://www.rssboard.org/rss-specification":
                    self.log(WARNING, "UseOfExtensionAttr", element, name)
                continue
            self.log(ERROR, "UnexpectedAttribute", element, name)

    def leaf(self, element) -> None:
        """Elements holding text only: a child element is undefined there."""
        for child in element:
            if isinstance(child.tag, str):
                self.log(ERROR, "UndefinedElement", child, f"inside <{_qname(element)}>")

    def duplicates(self, parent, names: dict[str, str], rule: str = "DuplicateElement") -> None:
        counts: dict[str, int] = {}
        for child in parent:
            if isinstance(child.tag, str):
                counts[child.tag] = counts.get(child.tag, 0) + 1
        for tag, count in counts.items():
            if count > 1 and tag in names:
                level = WARNING if names[tag] == "DuplicateEnclosure" else ERROR
                self.log(level, names[tag], parent, tag)

    def media(self, element) -> None:
        name = etree.QName(element).localname
        if name == "thumbnail":
            self._expected(element, {"url", "width", "height", "time"})
            url = element.get("url")
            if url is None:
                self.log(ERROR, "MissingAttribute", element, "url")
            else:
                self.full_uri(element, url)
            self._positive_attrs(element, ("width", "height"))
        elif name == "content":
            self._expected(
                element,
                {
                    "bitrate",
                    "channels",
                    "duration",
                    "expression",
                    "fileSize",
                    "framerate",
                    "height",
                    "isDefault",
                    "lang",
                    "medium",
                    "samplingrate",
                    "type",
                    "url",
                    "width",
                },
            )
            if element.get("url") is not None:
                self.full_uri(element, element.get("url"))
            medium = element.get("medium")
            if medium and medium not in ("image", "audio", "video", "document", "executable"):
                self.log(ERROR, "InvalidMediaMedium", element, medium)
            if element.get("type") is not None and not MIME.match(element.get("type")):
                self.log(ERROR, "InvalidMIMEAttribute", element, element.get("type"))
            self._positive_attrs(element, ("fileSize", "width", "height"))
            for child in element:
                if isinstance(child.tag, str) and etree.QName(child).namespace == MEDIA:
                    self.media(child)
        elif name == "group":
            contents = [c for c in element if c.tag == f"{{{MEDIA}}}content"]
            if len(contents) < 2:
                self.log(ERROR, "MediaGroupWithoutAlternatives", element)
            for child in element:
                if isinstance(child.tag, str):
                    self.media(child)
        elif name in ("title", "description"):
            media_type = element.get("type")
            if media_type == "html":
                self.safe_html(element, element.text or "")
            else:
                self.nonhtml(element, element.text or "", "ContainsUndeclaredHTML")
        elif name not in (
            "category",
            "copyright",
            "credit",
            "keywords",
            "hash",
            "player",
            "rating",
            "restriction",
            "text",
            "adult",
        ):
            self.log(ERROR, "UndefinedElement", element, f"media:{name}")

    def _positive_attrs(self, element, names: tuple[str, ...]) -> None:
        for name in names:
            value = element.get(name)
            if value is not None and not re.fullmatch(r"0*[1-9]\d*", value.strip()):
                self.log(ERROR, "InvalidPositiveInteger", element, f"{name}={value}")

    # .. RSS 2.0 .............................................................................
    def _rss(self, rss) -> None:
        self._expected(rss, {"version"})
        if rss.get("version") != "2.0":
            self.log(ERROR, "InvalidRSSVersion", rss, str(rss.get("version")))
        channels = [c for c in rss if c.tag == "channel"]
        if len(channels) != 1:
            self.log(
                ERROR, "MissingElement" if not channels else "DuplicateElement", rss, "channel"
            )
            return
        for child in rss:
            if isinstance(child.tag, str) and child.tag != "channel":
                self.log(ERROR, "UndefinedElement", child)
        self._channel(channels[0])

    def _channel(self, channel) -> None:
        docs = channel.find("docs")
        self.docs = (docs.text or "").strip() if docs is not None else ""
        core = {
            "title",
            "link",
            "description",
            "language",
            "copyright",
            "managingEditor",
            "webMaster",
            "pubDate",
            "lastBuildDate",
            "category",
            "generator",
            "docs",
            "cloud",
            "ttl",
            "image",
            "rating",
            "textInput",
            "skipHours",
            "skipDays",
            "item",
        }
        self.duplicates(channel, {t: "DuplicateElement" for t in core - {"category", "item"}})
        for name, rule in (
            ("title", "MissingTitle"),
            ("link", "MissingLink"),
            ("description", "MissingDescription"),
        ):
            if channel.find(name) is None:
                self.log(ERROR, rule, channel, name)
        seen_item = False
        links: list[dict[str, str]] = []
        channel_title = _text(channel.find("title"))
        channel_link = _text(channel.find("link"))
        guids: set[str] = set()
        for child in channel:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            if tag == "item":
                seen_item = True
                self._item(child, guids)
                continue
            if seen_item:
                self.log(WARNING, "MisplacedItem", child, "channel metadata after an item")
            if tag not in ("image", "cloud", "textInput", "skipHours", "skipDays"):
                self.leaf(child)
            value = _text(child)
            if tag in ("title", "description", "copyright"):
                self._expected(child, set())
                self.nonhtml(child, value)
                if tag == "title":
                    self.nonblank(child, value)
            elif tag in ("link", "docs"):
                self._expected(child, set())
                self.full_uri(child, value)
            elif tag == "language":
                self._language(child, value)
            elif tag in ("pubDate", "lastBuildDate"):
                self.rfc822(child, value)
            elif tag == "ttl":
                if not re.fullmatch(r"0*[1-9]\d*", value):
                    self.log(ERROR, "InvalidPositiveInteger", child, value)
            elif tag == "category":
                self._expected(child, {"domain"})
                self.nonhtml(child, value)
            elif tag in ("managingEditor", "webMaster"):
                self._email_with_name(child, value)
            elif tag == "image":
                self._image(child, channel_title, channel_link)
            elif tag in ("generator", "rating", "cloud", "textInput", "skipHours", "skipDays"):
                if tag == "textInput":
                    self.log(WARNING, "AvoidTextInput", child)
            elif tag == f"{{{ATOM}}}link":
                self.atom_link(child, links, "feed")
            elif tag in (f"{{{SY}}}updatePeriod",):
                if value not in ("hourly", "daily", "weekly", "monthly", "yearly"):
                    self.log(ERROR, "InvalidUpdatePeriod", child, value)
            elif tag == f"{{{SY}}}updateFrequency":
                if not re.fullmatch(r"0*[1-9]\d*", value):
                    self.log(ERROR, "InvalidPositiveInteger", child, value)
            elif etree.QName(child).namespace == DC:
                self._dc(child, channel)
            elif etree.QName(child).namespace == MEDIA:
                self.media(child)
            elif etree.QName(child).namespace in (None, ATOM, CONTENT, SY):
                self.log(ERROR, "UndefinedElement", child)
        if not any(link["rel"] == "self" for link in links):
            self.log(WARNING, "MissingAtomSelfLink", channel)

    def _image(self, image, channel_title: str, channel_link: str) -> None:
        for name in ("url", "title", "link"):
            if image.find(name) is None:
                self.log(ERROR, "MissingElement", image, name)
        if image.find("title") is not None and _text(image.find("title")) != channel_title:
            self.log(WARNING, "ImageTitleDoesntMatch", image)
        if image.find("link") is not None and _text(image.find("link")) != channel_link:
            self.log(WARNING, "ImageLinkDoesntMatch", image)
        if image.find("url") is not None:
            self.full_uri(image.find("url"), _text(image.find("url")))
        for name, limit in (("width", 144), ("height", 400)):
            node = image.find(name)
            if node is not None and not (_text(node).isdigit() and 0 < int(_text(node)) <= limit):
                self.log(ERROR, "InvalidWidth" if name == "width" else "InvalidHeight", node)

    def _email_with_name(self, element, value: str) -> None:
        if "@" in value and not value.endswith(")"):
            self.log(WARNING, "EmailFormat" if " " in value else "MissingRealName", element, value)
        elif "@" in value and not EMAIL.match(value.split(" ", 1)[0]):
            self.log(ERROR, "InvalidContact", element, value)

    def _dc(self, element, parent) -> None:
        name = etree.QName(element).localname
        value = _text(element)
        if name in ("date",):
            if not re.match(
                r"^\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d*)?)?(Z|[+-]\d\d:\d\d))?)?)?$", value
            ):
                self.log(ERROR, "InvalidW3CDTFDate", element, value)
        elif name == "language":
            self._language(element, value)
        elif name not in (
            "creator",
            "subject",
            "title",
            "description",
            "publisher",
            "contributor",
            "type",
            "format",
            "identifier",
            "source",
            "relation",
            "coverage",
            "rights",
        ):
            self.log(ERROR, "UndefinedElement", element, f"dc:{name}")

    def _item(self, item, guids: set[str]) -> None:
        self._expected(item, set())
        core = {
            "title",
            "link",
            "description",
            "author",
            "category",
            "comments",
            "enclosure",
            "guid",
            "pubDate",
            "source",
        }
        self.duplicates(
            item,
            {
                "title": "DuplicateElement",
                "link": "DuplicateElement",
                "description": "DuplicateElement",
                "guid": "DuplicateElement",
                "pubDate": "DuplicateElement",
                "comments": "DuplicateElement",
                "source": "DuplicateElement",
                "author": "DuplicateElement",
                f"{{{CONTENT}}}encoded": "DuplicateElement",
                "enclosure": "DuplicateEnclosure",
            },
        )
        present = {child.tag for child in item if isinstance(child.tag, str)}
        if "title" not in present and "description" not in present:
            self.log(ERROR, "ItemMustContainTitleOrDescription", item)
        if "guid" not in present:
            self.log(WARNING, "MissingGuid", item)
        for core_tag, ext_tag, names in (
            ("author", f"{{{DC}}}creator", "author/dc:creator"),
            ("category", f"{{{DC}}}subject", "category/dc:subject"),
            ("pubDate", f"{{{DC}}}date", "pubDate/dc:date"),
            ("guid", f"{{{ATOM}}}id", "guid/atom:id"),
            ("pubDate", f"{{{ATOM}}}published", "pubDate/atom:published"),
        ):
            if core_tag in present and ext_tag in present:
                self.log(WARNING, "DuplicateItemSemantics", item, names)
        links: list[dict[str, str]] = []
        seen_description = False
        for child in item:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            value = _text(child)
            namespace = etree.QName(child).namespace
            if namespace is None or namespace in (CONTENT, DC):
                self.leaf(child)
            if namespace is None and tag not in core:
                self.log(ERROR, "UndefinedElement", child)
            elif tag == "title":
                self._expected(child, set())
                self.nonhtml(child, value)
                self.nonblank(child, value)
            elif tag in ("link", "comments"):
                self._expected(child, set())
                self.full_uri(child, value)
            elif tag == "description":
                self._expected(child, set())
                seen_description = True
                self.safe_html(child, value)
            elif tag == f"{{{CONTENT}}}encoded":
                if not seen_description:
                    self.log(WARNING, "NeedDescriptionBeforeContent", child)
                self.safe_html(child, value)
            elif tag == "author":
                self._email_with_name(child, value)
            elif tag == "category":
                self._expected(child, {"domain"})
                self.nonhtml(child, value)
                self.nonblank(child, value)
            elif tag == "guid":
                self._guid(child, value, guids)
            elif tag == "pubDate":
                self._expected(child, set())
                self.rfc822(child, value)
            elif tag == "enclosure":
                self._enclosure(child)
            elif tag == "source":
                self._expected(child, {"url"})
                if child.get("url") is None:
                    self.log(ERROR, "MissingAttribute", child, "url")
                else:
                    self.full_uri(child, child.get("url"))
            elif tag == f"{{{ATOM}}}link":
                self.atom_link(child, links, "item")
            elif namespace == DC:
                self._dc(child, item)
            elif namespace == MEDIA:
                self.media(child)
            elif namespace in (ATOM, CONTENT, SY) and tag not in (
                f"{{{ATOM}}}id",
                f"{{{ATOM}}}updated",
                f"{{{ATOM}}}published",
            ):
                self.log(ERROR, "UndefinedElement", child)

    def _guid(self, guid, value: str, guids: set[str]) -> None:
        self._expected(guid, {"isPermaLink"})
        permalink = guid.get("isPermaLink", "true")
        if permalink not in ("true", "false"):
            self.log(ERROR, "InvalidBooleanAttribute", guid, permalink)
        if permalink == "true":
            if self.full_uri(guid, value, "InvalidHttpGUID") and value.lower().startswith(
                ("tag:", "urn:uuid:")
            ):
                self.log(ERROR, "InvalidPermalink", guid, value)
        elif len(value) < 9 and value.isdigit():
            self.log(WARNING, "NotSufficientlyUnique", guid, value)
        self.nonblank(guid, value)
        if value in guids:
            self.log(ERROR, "DuplicateValue", guid, value)
        guids.add(value)

    def _enclosure(self, enclosure) -> None:
        self._expected(enclosure, {"url", "length", "type"})
        length = enclosure.get("length")
        if length is None:
            self.log(ERROR, "MissingAttribute", enclosure, "length")
        else:
            try:
                number = int(length)
            except ValueError:
                self.log(ERROR, "InvalidIntegerAttribute", enclosure, f"length={length}")
            else:
                if number == -1:
                    self.log(ERROR, "UseZeroForUnknown", enclosure, "length=-1")
                elif number < 0:
                    self.log(ERROR, "InvalidNonNegativeInteger", enclosure, f"length={length}")
        self.mime(enclosure, enclosure.get("type"))
        if enclosure.get("url") is None:
            self.log(ERROR, "MissingAttribute", enclosure, "url")
        else:
            self.http_url(enclosure, enclosure.get("url"))

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


# -- JSON Feed 1.1 ----------------------------------------------------------------------------

_JSON_FEED_KEYS = {
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "authors",
    "language",
    "expired",
    "hubs",
    "items",
}
_JSON_ITEM_KEYS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "tags",
    "language",
    "attachments",
}


def check_json_feed(body: bytes, now: datetime | None = None) -> list[Finding]:
    """Findings against the JSON Feed 1.1 specification (https://jsonfeed.org/version/1.1)."""
    findings: list[Finding] = []
    now = now or datetime.now(UTC)

    def log(level: str, rule: str, where: str, detail: str = "") -> None:
        findings.append(Finding(level, rule, where, detail))

    try:
        feed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        log(ERROR, "NotJson", "document", str(exc))
        return findings
    if not isinstance(feed, dict):
        log(ERROR, "NotAnObject", "document")
        return findings
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        log(ERROR, "InvalidVersion", "version", str(feed.get("version")))
    if not isinstance(feed.get("title"), str) or not feed["title"].strip():
        log(ERROR, "MissingTitle", "title")
    _json_unknown_keys(feed, _JSON_FEED_KEYS, "feed", log)
    for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
        if key in feed:
            _json_url(feed[key], key, log)
    if "description" in feed and not isinstance(feed["description"], str):
        log(ERROR, "InvalidType", "description")
    _json_authors(feed.get("authors"), "authors", log)
    if "language" in feed:
        _json_language(feed["language"], "language", log)
    for i, hub in enumerate(feed.get("hubs") or []):
        if not (isinstance(hub, dict) and isinstance(hub.get("type"), str) and "url" in hub):
            log(ERROR, "InvalidHub", f"hubs[{i}]")
        else:
            _json_url(hub["url"], f"hubs[{i}].url", log)
    items = feed.get("items")
    if not isinstance(items, list):
        log(ERROR, "MissingItems", "items")
        return findings
    ids: set[str] = set()
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            log(ERROR, "InvalidItem", where)
            continue
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            log(ERROR, "MissingId", f"{where}.id")
        elif item_id in ids:
            log(ERROR, "DuplicateId", f"{where}.id", item_id)
        else:
            ids.add(item_id)
        if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
            log(ERROR, "MissingContent", where, "content_html or content_text is required")
        _json_unknown_keys(item, _JSON_ITEM_KEYS, where, log)
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item:
                _json_url(item[key], f"{where}.{key}", log)
        for key in ("title", "summary", "content_html", "content_text"):
            if key in item and not isinstance(item[key], str):
                log(ERROR, "InvalidType", f"{where}.{key}")
        for key in ("date_published", "date_modified"):
            if key in item:
                value = item[key]
                if not isinstance(value, str) or not RFC3339.match(value):
                    log(ERROR, "InvalidRFC3339Date", f"{where}.{key}", str(value))
                elif datetime.fromisoformat(value.replace("Z", "+00:00")) > now + timedelta(
                    minutes=10
                ):
                    log(WARNING, "ImplausibleDate", f"{where}.{key}", value)
        if "tags" in item and not (
            isinstance(item["tags"], list) and all(isinstance(t, str) for t in item["tags"])
        ):
            log(ERROR, "InvalidTags", f"{where}.tags")
        _json_authors(item.get("authors"), f"{where}.authors", log)
        if "language" in item:
            _json_language(item["language"], f"{where}.language", log)
        for j, attachment in enumerate(item.get("attachments") or []):
            at = f"{where}.attachments[{j}]"
            if not isinstance(attachment, dict) or "url" not in attachment:
                log(ERROR, "MissingAttachmentUrl", at)
                continue
            _json_url(attachment["url"], f"{at}.url", log)
            if not isinstance(attachment.get("mime_type"), str) or not MIME.match(
                attachment["mime_type"]
            ):
                log(ERROR, "InvalidMimeType", at, str(attachment.get("mime_type")))
            for key in ("size_in_bytes", "duration_in_seconds"):
                if key in attachment and not (
                    isinstance(attachment[key], int | float) and attachment[key] > 0
                ):
                    log(ERROR, "InvalidNumber", f"{at}.{key}")
    return findings


def _json_unknown_keys(obj: dict, known: set[str], where: str, log: Callable) -> None:
    for key in obj:
        if key not in known and not key.startswith("_"):
            level = WARNING if key in ("author", "banner_image") else ERROR
            log(level, "UnknownKey", f"{where}.{key}", "extensions must start with _")


def _json_url(value: object, where: str, log: Callable) -> None:
    if not isinstance(value, str) or not FULL_URI.match(value) or not HTTP_URL.match(value):
        log(ERROR, "InvalidURL", where, str(value))


def _json_language(value: object, where: str, log: Callable) -> None:
    if not isinstance(value, str) or value.split("-", 1)[0].lower() not in ISO_639_1:
        log(ERROR, "InvalidLanguage", where, str(value))


def _json_authors(value: object, where: str, log: Callable) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        log(ERROR, "InvalidAuthors", where)
        return
    for i, author in enumerate(value):
        if not isinstance(author, dict) or not any(k in author for k in ("name", "url", "avatar")):
            log(ERROR, "InvalidAuthor", f"{where}[{i}]")


# -- helpers ----------------------------------------------------------------------------------


def _qname(element: etree._Element) -> str:
    qname = etree.QName(element)
    prefix = KNOWN_NAMESPACES.get(qname.namespace or "", "")
    return (
        f"{prefix}:{qname.localname}" if qname.namespace and prefix != "atom" else qname.localname
    )


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _decode_entities(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.isdigit():
            return chr(int(name))
        if name in name2codepoint:
            return chr(name2codepoint[name])
        return match.group(0)

    return re.sub(r"&#?(\w+);", one, value)


def _safe_style(style: str) -> bool:
    if not re.match(r"""^([:,;#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+"|\([\d,\s]+\))*$""", style):
        return False
    return all(
        prop in SAFE_CSS for prop, _ in re.findall(r"([-\w]+)\s*:\s*([^:;]*)", style.lower())
    )


_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _canonical_uri(value: str) -> str:
    """RFC 3986 normal form as the validator computes it for Atom ids: lower-case scheme and
    host, no default port, "/" for an empty http path, upper-case escapes, unreserved
    characters unescaped, NFC."""
    parts = urlsplit(unicodedata.normalize("NFC", value))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return value
    netloc = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}[scheme]
    if parts.port and parts.port != default:
        netloc += f":{parts.port}"

    def norm(component: str) -> str:
        def one(match: re.Match[str]) -> str:
            char = chr(int(match.group(1), 16))
            return char if char in _UNRESERVED else match.group(0).upper()

        return re.sub(r"%([0-9A-Fa-f]{2})", one, component)

    result = f"{scheme}://{netloc}{norm(parts.path) or '/'}"
    if parts.query or value.endswith("?"):
        result += "?" + norm(parts.query)
    if parts.fragment:
        result += "#" + norm(parts.fragment)
    return result


def _uri_key(value: str) -> str:
    return _canonical_uri(value.split("#")[0])
