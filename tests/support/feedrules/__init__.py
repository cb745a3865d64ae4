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

from datetime import UTC, datetime

from tests.support.feedrules.atom import AtomRules
from tests.support.feedrules.common import ERROR, WARNING, Finding, problems
from tests.support.feedrules.jsonfeed import check_json_feed
from tests.support.feedrules.opml import OpmlRules
from tests.support.feedrules.rss import RssRules


class FeedChecker(RssRules, AtomRules, OpmlRules):
    """Every XML format's rules; `run` walks the document and picks the format's."""


def check_feed(body: bytes, location: str, now: datetime | None = None) -> list[Finding]:
    """Findings for an RSS 2.0, Atom 1.0 or OPML document served at `location`."""
    checker = FeedChecker(body, location, now or datetime.now(UTC))
    return checker.run()


__all__ = ["ERROR", "WARNING", "Finding", "check_feed", "check_json_feed", "problems"]
