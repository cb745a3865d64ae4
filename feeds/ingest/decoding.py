"""Content-Encoding decoded with bounded memory, for feeds/ingest/fetch.py.

httpx decodes each network chunk through every listed coding in one call before its caller sees
a byte: with `Content-Encoding: gzip, gzip`, 1,827 bytes became 1 GiB of zeros (2.2 GB resident)
before the size cap could count them, and three layers of 378 bytes raised MemoryError inside
httpx (issue 12). Here the raw bytes are decoded layer by layer with zlib's `max_length`: a layer
is asked for at most `STEP` bytes at a time and is only given input once the layer after it has
used up what it had, so at any moment the decoder holds at most about `STEP` bytes per layer
besides what the caller kept. The caller stops at its cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from feeds.common.errors import BadEncoding

# Bytes a layer hands on at a time (httpcore reads the network 64 KiB at a time too).
STEP = 64 * 1024
# Content codings decoded on top of each other. Servers send one; a misconfigured proxy
# sometimes adds a second. Each layer holds a 32 KiB zlib window and about 10 KiB of state, and a
# header line can name thousands of codings, so the number is bounded.
MAX_CODINGS = 3
# zlib's wbits per coding: gzip framing, zlib framing (RFC 9110 "deflate"; raw deflate, which
# some servers send instead, is tried when the zlib header is missing, as browsers and httpx do).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ACCEPTED = "gzip, deflate"


def content_codings(header: str | None) -> list[str]:
    """The codings of a Content-Encoding header in the order they were applied; BadEncoding for
    one quantam did not ask for (it sends `Accept-Encoding: gzip, deflate`) or too many."""
    names = [n.strip().lower() for n in (header or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    for name in names:
        if name not in _WBITS:
            raise BadEncoding(
                f"the server sent the body in the content coding {name[:40]!r}, which quantam "
                f"did not ask for (it accepts {ACCEPTED})"
            )
    if len(names) > MAX_CODINGS:
        raise BadEncoding(
            f"the body is encoded {len(names)} times over ({', '.join(names[:8])}); quantam "
            f"decodes at most {MAX_CODINGS} stacked content codings"
        )
    return names


class _Layer:
    """One content coding: its input so far, decoded at most `limit` bytes per call."""

    def __init__(self, coding: str):
        self.coding = coding
        self.pending = b""
        self._zlib = zlib.decompressobj(_WBITS[coding])
        self._started = False

    @property
    def ended(self) -> bool:
        return self._zlib.eof

    def take(self, limit: int) -> bytes:
        data, self.pending = self.pending, b""
        try:
            try:
                out = self._zlib.decompress(data, limit)
            except zlib.error:
                if self.coding != "deflate" or self._started:
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
                out = self._zlib.decompress(data, limit)
        except zlib.error as exc:
            raise BadEncoding(f"the body is not valid {self.coding} data ({exc})") from None
        self._started = self._started or bool(data)
        self.pending = self._zlib.unconsumed_tail
        return out


class BoundedDecoder:
    """Decodes a body's content codings incrementally: `feed` each raw chunk and take the
    pieces it yields (each at most `STEP` bytes), then call `finish`."""

    def __init__(self, content_encoding: str | None):
        # The last coding applied is the first to undo.
        self._layers = [_Layer(c) for c in reversed(content_codings(content_encoding))]

    def feed(self, raw: bytes) -> Iterator[bytes]:
        if not self._layers:
            if raw:
                yield raw
            return
        self._layers[0].pending += raw
        while piece := self._pull(len(self._layers) - 1):
            yield piece

    def _pull(self, i: int) -> bytes:
        """Up to STEP decoded bytes out of layer i, feeding it from layer i - 1 as it runs dry;
        b"" once everything given so far is used up (or the layer's stream ended: bytes after
        the end, such as a second gzip member, are ignored, as httpx does)."""
        layer = self._layers[i]
        while True:
            out = layer.take(STEP)
            if out or layer.ended or i == 0:
                return out
            more = self._pull(i - 1)
            if not more:
                return b""
            layer.pending = more

    def finish(self) -> None:
        """BadEncoding if the body ended before a coding's end: a cut-short body is refused
        rather than parsed as a feed missing its end."""
        for layer in reversed(self._layers):
            if not layer.ended:
                raise BadEncoding(f"the {layer.coding}-encoded body is cut short (truncated)")
