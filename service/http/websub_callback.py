"""The WebSub subscriber's callback (feeds/ingest/websub.py): hubs verify subscriptions here
(GET) and deliver new entries (POST). The path's last segment is the subscription's random
token; it is the only way in, and nothing here needs the API token.

A delivery is read whole (at most the write API's body limit, 413 beyond), its signature
checked against the subscription's secret (403 and nothing stored when it is missing or
wrong), stored as a poll would store the feed, and answered 202; related lists follow on a
background thread and the new articles' pages at the next poll round.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from feeds.ingest.websub import SIGNATURE_HEADER
from service.http import cms
from service.http.errors import Problem

bp = Blueprint("websub", __name__)

PLAIN = "text/plain; charset=utf-8"


def _quantam() -> Any:
    return current_app.extensions["quantam"]


@bp.get("/websub/callback/<token>")
def verify(token: str) -> Response:
    answer = _quantam().websub.verify(token, request.args.to_dict())
    return Response(answer.body, status=answer.status, content_type=PLAIN)


@bp.post("/websub/callback/<token>")
def deliver(token: str) -> Response:
    if request.content_length is not None and request.content_length > cms.MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {cms.MAX_BODY:,} bytes")
    body = request.get_data(cache=False)
    if len(body) > cms.MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {cms.MAX_BODY:,} bytes")
    quantam = _quantam()
    answer = quantam.websub.receive(token, body, request.headers.get(SIGNATURE_HEADER))
    if answer.source is not None:
        report = quantam.ingestor.ingest_delivery(answer.source, body, request.content_type)
        if report.error:
            # The hub did its part; the feed is unreadable: say so, store nothing.
            return Response(report.error, status=202, content_type=PLAIN)
    return Response(answer.body, status=answer.status, content_type=PLAIN)
