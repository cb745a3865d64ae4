"""Request bodies: a JSON object of bounded size, read safely, then checked by its model.

A bad body is a problem naming what is wrong: 413 past MAX_BODY, 415 when not JSON, 400 when not
an object or a field is missing or wrong (`parameter` names the field).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from flask import request
from pydantic import BaseModel, ValidationError

from feeds.ingest.push import MAX_CATEGORY_LENGTH
from service.http.errors import Problem

MAX_BODY = 2 * 1024 * 1024
B = TypeVar("B", bound=BaseModel)


def body_as(model: type[B]) -> B:
    """This request's JSON body, checked by `model`."""
    return checked(model, json_body())


def json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    if not request.is_json:
        raise Problem(415, "Unsupported media type", "send the body as application/json")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        # A chunked body has no Content-Length: the app reads at most one byte past the limit.
        raise Problem(413, "Payload too large", f"the body must be at most {MAX_BODY:,} bytes")
    try:
        # orjson, not the json module: it stops at 1,024 levels of nesting (json recursed until
        # RecursionError on 100,000 "[", a 500) and refuses lone surrogates ("\ud800"), which
        # are not text and failed later, when hashed or stored.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "Bad request", f"the body is not valid JSON: {_why(exc)}") from None
    if not isinstance(data, dict):
        raise Problem(400, "Bad request", "the body must be a JSON object")
    return data


def _why(exc: orjson.JSONDecodeError) -> str:
    message = str(exc)
    if message.startswith("depth limit exceeded"):
        return "it nests arrays and objects more than 1,024 levels deep"
    if "surrogate" in message:
        return f"a string holds a lone UTF-16 surrogate, which is not Unicode text ({message})"
    return message


def checked(model: type[B], data: dict[str, Any]) -> B:
    """The body as `model`; a bad field is a 400 naming it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    unknown = sorted(
        str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1
    )
    if unknown:
        allowed = " and ".join(f"'{name}'" for name in model.model_fields)
        detail = f"only {allowed} can be changed, not {', '.join(unknown)}"
        raise Problem(400, "Bad request", detail, parameter=unknown[0])
    error = errors[0]
    # A nested field is named by its path: `pin.0.position`.
    name = ".".join(str(part) for part in error["loc"])
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("missing", "string_too_short"):
        why = "is required"
    elif kind == "string_type":
        why = "must be a string"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        why = f": must be one of {expected}"
    elif kind == "string_too_long" and name == "category":
        why = (
            f"has {len(data[name]):,} characters; a category slug or name has at most "
            f"{MAX_CATEGORY_LENGTH}"
        )
    else:
        message = error["msg"].removeprefix("Value error, ")
        why = message if message.startswith("is ") else f": {message}"
    detail = f"field '{name}'{'' if why.startswith(':') else ' '}{why}"
    raise Problem(400, "Bad request", detail, parameter=name)
