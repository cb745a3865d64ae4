"""The WebSub subscriber's callback (feeds/ingest/websub.py): hubs verify subscriptions here
(GET) and deliver new entries (POST). The path's last segment is the subscription's random
token; it is the only way in, and nothing here needs the API token.

A delivery is read whole (at most the write API's body limit, 413 beyond), its signature
checked against the subscription's secret (403 and nothing stored when it is missing or
wrong), stored as a poll would store the feed, and answered 202; related lists follow on a
background thread and the new articles' pages at the next poll round.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, request
from pydantic import Field

from feeds.ingest.websub import SIGNATURE_HEADER
from feeds.publish import formats
from service.http.contract.body import MAX_BODY
from service.http.contract.operations import Reply, operation, text
from service.http.contract.query import Query
from service.http.errors import Problem

bp = Blueprint("websub", __name__)

PLAIN = "text/plain; charset=utf-8"


class VerifyQuery(Query):
    """What a hub sends (documented; feeds.ingest.websub checks it, as the protocol says)."""

    mode: Literal["subscribe", "unsubscribe", "denied"] | None = Field(
        None, alias="hub.mode", description="What the hub verifies, or `denied`."
    )
    topic: str | None = Field(None, alias="hub.topic", description="The feed subscribed to.")
    challenge: str | None = Field(
        None, alias="hub.challenge", description="Echoed when the request is pending."
    )
    lease_seconds: int | None = Field(
        None, alias="hub.lease_seconds", ge=0, description="The lease granted."
    )
    reason: str | None = Field(None, alias="hub.reason", description="Why the hub denied it.")


WEBSUB_DELIVERY: dict[int, Reply | str] = {
    202: text("Received (and stored, when the body is a feed)."),
    403: text("The signature is missing or wrong: nothing was stored."),
    404: text("No such subscription."),
    410: text("The subscription has ended (its source was removed)."),
    413: "PayloadTooLarge",
    503: "StoreUnavailable",
}


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.get("/websub/callback/<token>")
@operation(
    operation_id="websub_verify",
    tag="websub",
    summary="A hub verifies a subscription request (or denies it)",
    query=VerifyQuery,
    answers={
        200: text("The challenge, for a pending request of this mode and topic."),
        404: text("No such subscription, or no such request pending."),
        503: "StoreUnavailable",
    },
)
def verify(token: str) -> Response:
    answer = _quantam().websub.verify(token, request.args.to_dict())
    return Response(answer.body, status=answer.status, content_type=PLAIN)


@bp.post("/websub/callback/<token>")
@operation(
    operation_id="websub_deliver",
    tag="websub",
    summary="A hub delivers the feed's new entries",
    description="Signed with the subscription's secret: `X-Hub-Signature: sha256=<hex HMAC of "
    "the body>` (sha1, sha384 and sha512 too). The entries are stored as a poll would store "
    "them; pages and related lists follow off the request.",
    headers=(
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "description": "`<method>=<hex HMAC>` of the raw body.",
            "schema": {"type": "string"},
        },
    ),
    body_media={
        media: {"schema": {"type": "string"}}
        for media in (formats.RSS_MEDIA_TYPE, formats.ATOM_MEDIA_TYPE, "application/xml")
    },
    answers=WEBSUB_DELIVERY,
)
def deliver(token: str) -> Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    quantam = _quantam()
    answer = quantam.websub.receive(token, body, request.headers.get(SIGNATURE_HEADER))
    if answer.source is not None:
        report = quantam.ingestor.ingest_delivery(answer.source, body, request.content_type)
        if report.error:
            # The hub did its part; the feed is unreadable: say so, store nothing.
            return Response(report.error, status=202, content_type=PLAIN)
    return Response(answer.body, status=answer.status, content_type=PLAIN)
