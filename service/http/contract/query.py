"""Query parameters as typed models: one model per endpoint, read from the request by `parse`.

The wire rules (the same for every endpoint, stated in /openapi.json): an optional parameter
sent empty (`?k=`) is absent; a single value sent twice is refused; a list is comma-separated
and/or repeated, blank values counting toward its limit and then dropped. A bad value is a 400
problem naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import typing
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from service.http.errors import BadParameter
from store.base import Cursor as StoreCursor
from store.models import as_utc, parse_ts, ts
from store.urls import InvalidURL, canonical_url

# The bounds every endpoint enforces; /openapi.json states the same numbers.
MAX_LIST_VALUES = 100
MAX_TEXT_LENGTH = 2048
MAX_DATETIME_LENGTH = 64
MAX_CURSOR_LENGTH = 200
# What a JSON integer looks like: int() would also take "+5", " 5", "1_0", "٥".
_WHOLE = re.compile(r"-?[0-9]+")


class Query(BaseModel):
    """Base of every endpoint's query model."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def _whole_number(value: object) -> object:
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


def _moment(value: object) -> datetime:
    """ISO 8601; no zone means UTC."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time")
    if len(value) > MAX_DATETIME_LENGTH:
        raise ValueError(f"is longer than {MAX_DATETIME_LENGTH} characters")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date-time, not {value!r}") from None
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def encode_cursor(cursor: StoreCursor) -> str:
    raw = f"{ts(cursor[0])}|{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(value: object) -> StoreCursor:
    if not isinstance(value, str):
        raise ValueError("is not a cursor this service returned")
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, article_id = decoded.split("|", 1)
        moment = parse_ts(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("is not a cursor this service returned") from None
    return moment, article_id


def _page_url(value: str) -> str:
    try:
        return canonical_url(value)
    except InvalidURL as exc:
        raise ValueError(str(exc)) from None


def Int(default: int, low: int, high: int, description: str) -> Any:
    """A whole number within bounds (the field's default when absent)."""
    return Field(default, ge=low, le=high, description=description)


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Stripped = AfterValidator(str.strip)
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), Stripped]
Moment = Annotated[
    datetime,
    BeforeValidator(_moment),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": MAX_DATETIME_LENGTH}),
]
Cursor = Annotated[
    StoreCursor,
    BeforeValidator(_cursor),
    WithJsonSchema({"type": "string", "maxLength": MAX_CURSOR_LENGTH}),
    Field(
        description="An opaque cursor this service returned (`next_cursor`, or the feed's "
        "rel=next link); the page starts after it. Anything else is a 400."
    ),
]
Ids = Annotated[
    list[str],
    Field(max_length=MAX_LIST_VALUES),
    AfterValidator(lambda values: [v for v in values if v]),
]
PageURL = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The page's URL, canonicalised as at ingestion (tracking parameters "
        "dropped, host lower-cased).",
    ),
    Stripped,
    AfterValidator(_page_url),
]

Q = TypeVar("Q", bound=Query)


def is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


@functools.cache
def _plan(model: type[Query]) -> tuple[tuple[str, bool], ...]:
    """Each parameter's name as sent and whether it is a list, worked out once per model."""
    return tuple(
        (info.alias or name, is_list(info.annotation)) for name, info in model.model_fields.items()
    )


def parse(model: type[Q]) -> Q:
    """This request's query parameters as `model`; a bad one is a 400 naming it."""
    args = request.args
    raw: dict[str, Any] = {}
    for name, listed in _plan(model):
        values = args.getlist(name)
        if not values:
            continue
        if listed:
            raw[name] = [v.strip() for value in values for v in value.split(",")]
        elif len(values) > 1:
            raise BadParameter(name, "must be given once")
        elif values[0].strip():
            raw[name] = values[0]  # as sent: its length is checked, then text is stripped
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise bad_parameter(model, exc) from None


def bad_parameter(model: type[Query], exc: ValidationError) -> BadParameter:
    error = exc.errors(include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"][:1])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing":
        return BadParameter(name, "is required")
    if kind in ("greater_than_equal", "less_than_equal"):
        fields = {info.alias or key: info for key, info in model.model_fields.items()}
        bounds = {
            k: getattr(m, k) for m in fields[name].metadata for k in ("ge", "le") if hasattr(m, k)
        }
        if len(bounds) == 2:
            return BadParameter(
                name, f"must be from {bounds['ge']} to {bounds['le']}, not {error['input']}"
            )
        return BadParameter(name, f"{error['msg'].lower()}, not {error['input']}")
    if kind == "too_long" and "max_length" in ctx:
        return BadParameter(name, f"at most {ctx['max_length']} values")
    if kind == "string_too_long":
        return BadParameter(name, f"is longer than {ctx['max_length']} characters")
    return BadParameter(name, error["msg"].removeprefix("Value error, "))
