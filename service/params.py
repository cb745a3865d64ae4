"""Query parameters, checked: a bad one is a 400 that names it and says what was expected."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from flask import request

from service.errors import BadParameter
from store.base import Cursor
from store.codec import parse_ts, ts


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(
            name, f"must be a whole number from {low} to {high}, not {raw!r}"
        ) from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be from {low} to {high}, not {value}")
    return value


def list_param(name: str, max_items: int = 100) -> list[str]:
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",")]
    values = [v for v in values if v]
    if len(values) > max_items:
        raise BadParameter(name, f"at most {max_items} values")
    return values


def str_param(name: str, required: bool = False, max_length: int = 2048) -> str | None:
    value = request.args.get(name)
    if value is None or value.strip() == "":
        if required:
            raise BadParameter(name, "is required")
        return None
    if len(value) > max_length:
        raise BadParameter(name, f"is longer than {max_length} characters")
    return value.strip()


def datetime_param(name: str) -> datetime | None:
    raw = str_param(name, max_length=64)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, f"must be an ISO 8601 date-time, not {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{ts(cursor[0])}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_param(name: str = "cursor") -> Cursor | None:
    raw = str_param(name, max_length=200)
    if raw is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        stamp, article_id = decoded.split("|", 1)
        moment = parse_ts(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadParameter(name, "is not a cursor this service returned") from None
    assert moment is not None
    return moment, article_id
