"""Why a feed could not be fetched or read, in words an operator can act on.

Each error's message is what `quantam sources list` shows as the source's last error.
"""

from __future__ import annotations


class FeedError(Exception):
    """Base class of every problem with one source or one pushed article."""


class FetchError(FeedError):
    """The feed's bytes could not be retrieved."""


class RefusedAddress(FetchError):
    """The URL resolves to a private, loopback, link-local or multicast address."""

    def __init__(self, host: str, address: str):
        self.host = host
        self.address = address
        super().__init__(
            f"refused to fetch {host}: it resolves to the non-public address {address} "
            "(set QUANTAM_ALLOW_PRIVATE_FETCH=1 to allow private networks)"
        )


class BadURL(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


class ConnectionFailed(FetchError):
    pass


class TooLarge(FetchError):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the response is larger than the {limit:,}-byte limit; stopped reading")


class TooManyRedirects(FetchError):
    pass


class BadEncoding(FetchError):
    """The body's Content-Encoding is unknown, stacked too deep, corrupt or cut short."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(reason)


class NotAFeed(FeedError):
    """The body is readable but is not RSS or Atom (an HTML page, JSON, nothing)."""


class InvalidArticle(FeedError):
    """A pushed article lacks what every article needs (a URL, a title) or has a bad field
    (`field` names it, for the API's `parameter`)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
