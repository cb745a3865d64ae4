"""Query parameters, checked: a bad one is a 400 that names it and says what was expected."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Literal, overload

from flask import request

from service.http.errors import BadParameter
from store.base import Cursor
from store.models import as_utc, parse_ts, ts

# The bounds every endpoint enforces; /openapi.json states the same numbers.
MAX_LIST_VALUES = 100
MAX_TEXT_LENGTH = 2048
MAX_DATETIME_LENGTH = 64
MAX_CURSOR_LENGTH = 200


def _one(name: str) -> str | None:
    """The parameter's value; sent more than once it is ambiguous, so it is refused."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadParameter(name, "must be given once")
    return values[0] if values else None


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = _one(name)
    if raw is None or raw == "":
        return default
    try:
        # Only what a JSON integer looks like: int() would also take "+5", " 5", "1_0", "٥".
        if not (raw.isascii() and raw.removeprefix("-").isdigit()):
            raise ValueError(raw)
        value = int(raw)
    except ValueError:
        raise BadParameter(
            name, f"must be a whole number from {low} to {high}, not {raw!r}"
        ) from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be from {low} to {high}, not {value}")
    return value


def list_param(name: str, max_items: int = MAX_LIST_VALUES) -> list[str]:
    """Comma-separated and/or repeated values; blank ones count toward the limit, then go."""
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",")]
    if len(values) > max_items:
        raise BadParameter(name, f"at most {max_items} values")
    return [v for v in values if v]


@overload
def str_param(name: str, required: Literal[True], max_length: int = ...) -> str: ...


@overload
def str_param(name: str, required: bool = False, max_length: int = ...) -> str | None: ...


def str_param(name: str, required: bool = False, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    value = _one(name)
    if value is None or value.strip() == "":
        if required:
            raise BadParameter(name, "is required")
        return None
    if len(value) > max_length:
        raise BadParameter(name, f"is longer than {max_length} characters")
    return value.strip()


def datetime_param(name: str) -> datetime | None:
    raw = str_param(name, max_length=MAX_DATETIME_LENGTH)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, f"must be an ISO 8601 date-time, not {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return as_utc(moment)


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{ts(cursor[0])}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_param(name: str = "cursor") -> Cursor | None:
    raw = str_param(name, max_length=MAX_CURSOR_LENGTH)
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
