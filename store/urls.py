"""Article identity by URL, and the URI form feeds publish.

The canonical URL names an article: the same story shared with tracking parameters is one URL,
and an article's id is a hash of it (`article_id_for`). Ingestion stores articles under it, and
every reader that has only a page's URL (the embed, the related API, the CMS, the command line)
asks `Store.article_id_at`, which canonicalises the same way, so both sides agree on which
article is meant.

`to_uri` is another normal form of the same URLs, plain-ASCII RFC 3986, for what feeds publish.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class InvalidURL(ValueError):
    """Not an http(s) URL an article can be at; the message says why."""


# Parameters that identify a campaign or a click, never the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "zarsrc",
        "ocid",
        "cmpid",
        "smid",
        # VnExpress marks shares with its own campaign parameters.
        "vn_source",
        "vn_medium",
        "vn_campaign",
        "vn_content",
        "vn_term",
    }
)
_TRACKING_PREFIXES = ("utm_", "itm_")
# C0 controls, DEL and lone surrogates: no URL holds them (a NUL cut URLs short in C code that
# read them, and a surrogate cannot even be stored as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_TAB_NEWLINE = dict.fromkeys(map(ord, "\t\n\r"), None)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


# Memoised: a by-URL related request canonicalises its page URL three times (its cache key, its
# query check, the store's lookup), 30 us each, on a path that costs ~300 us in all.
@functools.lru_cache(maxsize=8192)
def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    remaining parameters sorted. Raises InvalidURL for anything that is not an http(s) URL."""
    # Tabs and line breaks inside a URL are dropped, as browsers do (WHATWG URL standard).
    url = url.strip().translate(_TAB_NEWLINE)
    bad = _FORBIDDEN.search(url)
    if bad:
        raise InvalidURL(
            f"not a valid URL: {url[:200]!r} holds the character U+{ord(bad.group()):04X} "
            f"at position {bad.start()} (control characters and lone surrogates are refused)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def article_id_for(url: str) -> str:
    """The stable id of a new article: a short hash of its canonical URL."""
    return hashlib.sha1(url.encode()).hexdigest()[:16]


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# RFC 3986 pchar: what a path segment may hold literally.
_PCHAR = _UNRESERVED | frozenset("!$&'()*+,;=:@")
_PATH_SAFE = _PCHAR | frozenset("/")
_QUERY_SAFE = _PCHAR | frozenset("/?")
_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|.", re.S)
_PLAIN = {
    frozenset(_PATH_SAFE): re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*"),
    frozenset(_QUERY_SAFE): re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*"),
}


@functools.lru_cache(maxsize=16384)
def to_uri(url: str) -> str:
    """The http(s) URL as a plain-ASCII URI in RFC 3986 normal form: NFC text, IDNA host, UTF-8
    percent-encoding with upper-case hex, unreserved characters unescaped, "/" for an empty path.

    Feeds need it: validators reject IRIs and stray characters in links, and an Atom id must be
    in this form to compare equal across documents. Credentials (userinfo) are dropped: feeds
    never carry them. Other schemes are returned unchanged."""
    text = unicodedata.normalize("NFC", url.strip())
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return text
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        host = _escape(parts.hostname.lower(), _UNRESERVED)
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return urlunsplit(
        (
            scheme,
            host,
            _escape(parts.path or "/", _PATH_SAFE),
            _escape(parts.query, _QUERY_SAFE),
            _escape(parts.fragment, _QUERY_SAFE),
        )
    )


def _escape(component: str, safe: frozenset[str]) -> str:
    plain = _PLAIN.get(safe)
    if plain is not None and plain.fullmatch(component):
        return component
    out: list[str] = []
    for token in _TOKEN.findall(component):
        if len(token) == 3:
            char = chr(int(token[1:], 16))
            out.append(char if char in _UNRESERVED else token.upper())
        elif token in safe:
            out.append(token)
        else:
            out.append("".join(f"%{byte:02X}" for byte in token.encode("utf-8")))
    return "".join(out)
