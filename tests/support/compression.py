"""Bodies in content codings, and compression bombs, for the fetcher's tests."""

from __future__ import annotations

import functools
import zlib

MIB = 1024 * 1024


def encode(data: bytes, coding: str, level: int = 9) -> bytes:
    """data in one content coding ("deflate-raw": deflate without the zlib header)."""
    wbits = {"gzip": 31, "x-gzip": 31, "deflate": 15, "deflate-raw": -15}[coding]
    packer = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@functools.cache
def bomb(layers: int, mib: int) -> bytes:
    """`mib` MiB of zeros gzipped `layers` times over (built a MiB at a time)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    body = b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()
    for _ in range(layers - 1):
        body = encode(body, "gzip")
    return body
