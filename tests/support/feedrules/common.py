"""What every format's rules share: levels, namespaces, value patterns, findings, the
checker's document walk and its shared value rules, and small helpers."""

from __future__ import annotations

import contextlib
import email.utils
import re
import unicodedata
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


class Checker:
    """The rules every document shares; the formats' own are in rss, atom and opml."""

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
