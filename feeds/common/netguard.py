"""Refuse to fetch from private networks (SSRF), checked where the socket is opened.

Checking the URL's host before the request is not enough: a redirect or a DNS answer that changes
between check and connect (rebinding) would slip past. So the check lives in the network backend
that httpx's connection pool uses to open every TCP connection, the way Miniflux checks in its
dialer: each connection, first hop or redirect, connects only to an address that passed.

The same backend bounds a fetch's whole exchange in time: every connect, read and write on its
streams waits at most what is left of the deadline the calling thread set (`deadline`), so a
server dripping its status line and headers a byte at a time cannot hold a worker past it
(httpx's timeouts are per operation only).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from feeds import __version__
from feeds.common.errors import RefusedAddress

# How quantam names itself in every outbound request (feed fetches, hub pings).
USER_AGENT = f"quantam/{__version__} (feed syndication; +https://github.com/quantam/quantam)"

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: _IP) -> bool:
    """True for addresses on the public internet; False for private, loopback, link-local,
    multicast, reserved and unspecified ones (IPv4-mapped IPv6 is judged as its IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)
    )


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) pairs for host, numeric forms ("0177.0.0.1", "2130706433") included:
    getaddrinfo parses them the way the socket layer will."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        pair = (family, str(sockaddr[0]))
        if pair not in seen:
            seen.append(pair)
    return seen


class AddressPolicy:
    """Which addresses may be fetched: public ones, plus whatever the operator allows
    (everything, or a list of networks such as 10.1.0.0/16 for an intranet CMS)."""

    def __init__(self, allow_private: bool = False, allowed_networks: Iterable[str] = ()):
        self.allow_private = allow_private
        self.allowed_networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    def allows(self, address: _IP) -> bool:
        if self.allow_private or is_public(address):
            return True
        return any(address in network for network in self.allowed_networks)


def checked_addresses(host: str, port: int, policy: AddressPolicy) -> list[tuple[int, str]]:
    """The addresses to connect to, or RefusedAddress if any answer is not allowed.

    Refusing when any answer is private (not just the first) stops a host that mixes a public
    and a private record from reaching the private one on a retry."""
    addresses = resolve(host, port)
    for _, address in addresses:
        if not policy.allows(ipaddress.ip_address(address.split("%")[0])):
            raise RefusedAddress(host, address)
    return addresses


_deadline = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Network operations of this thread (through a GuardedBackend) end `seconds` from now."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def past_deadline() -> bool:
    at: float | None = getattr(_deadline, "at", None)
    return at is not None and time.monotonic() >= at


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """The operation's own timeout, shortened to what is left of the thread's deadline."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the exchange took longer than its total timeout")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the deadline of the thread using it (a pooled
    connection may serve several threads in turn, so the deadline is looked up at each call)."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: object,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context,  # type: ignore[arg-type]
            server_hostname,
            _left(timeout, httpcore.ConnectTimeout),
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, but every TCP connect goes to a vetted address."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for _, address in checked_addresses(host, port, self.policy):
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address to connect to for {host}")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend under its connection pool."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any):
        super().__init__(**kwargs)
        pool = self._pool
        self._pool = httpcore.ConnectionPool(
            ssl_context=pool._ssl_context,
            max_connections=pool._max_connections,
            max_keepalive_connections=pool._max_keepalive_connections,
            keepalive_expiry=pool._keepalive_expiry,
            http1=pool._http1,
            http2=pool._http2,
            retries=pool._retries,
            network_backend=GuardedBackend(policy),
        )
