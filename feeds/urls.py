"""Canonical article URLs: the same story shared with tracking parameters is one URL.

Used both at ingestion and when an embedding page asks for its related stories by its own URL,
so that both sides agree on which article is meant.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from feeds.errors import BadURL

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
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    remaining parameters sorted. Raises BadURL for anything that is not an http(s) URL."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"not a valid URL: {url!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise BadURL(f"not an http(s) URL: {url!r}")
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


def is_http_url(url: str) -> bool:
    try:
        canonical_url(url)
    except BadURL:
        return False
    return True
