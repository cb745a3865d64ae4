"""Unicode hygiene for text coming in from feeds: NFC, stray characters, slugs.

Vietnamese feeds often arrive decomposed (NFD): "ế" as "ê" + U+0301. Everything is composed on
the way in so that equal words are equal strings everywhere downstream.
"""

from __future__ import annotations

import re
import unicodedata

# Invisible characters that break word matching: zero-width space/joiners, BOM, direction marks;
# and the bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069), which reorder what
# follows them: "\u202egpj.exe" shows as "exe.jpg" (Trojan Source, CVE-2021-42574). Vietnamese and
# English text never needs them.
_INVISIBLE = (
    "\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad\u061c"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# U+00D0 (Icelandic Eth) is a common mis-typing of U+0110 (Vietnamese Đ).
_LOOKALIKES = {"\u00d0": "\u0110", "\u00a0": " "}
_REPLACEMENTS = {**dict.fromkeys(_INVISIBLE, ""), **_LOOKALIKES}
# One regex rather than str.translate: translate looks every character of a non-Latin-1 string
# up in its table (344 us for a 3,000-character Vietnamese body, a quarter of ingesting a feed
# with full text); the regex scans in C and calls back only where one occurs (9 us).
_ODD = re.compile("[" + "".join(map(re.escape, _REPLACEMENTS)) + "]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean_text(text: str | None, *, multiline: bool = False) -> str:
    """NFC, no invisible or control characters, collapsed spaces; newlines kept if multiline."""
    if not text:
        return ""
    text = nfc(_ODD.sub(_replace, text))
    text = _CONTROL.sub(" ", text)
    if not multiline:
        return " ".join(text.split())
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def _replace(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def slugify(name: str) -> str:
    """ASCII slug of a Vietnamese or English name: "Thời sự" -> "thoi-su", "Đời sống" ->
    "doi-song"."""
    text = nfc(name).replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
