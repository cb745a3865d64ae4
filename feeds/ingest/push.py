"""What a CMS pushes (`POST /api/articles`, `quantam ingest`, a bulk import's rows), as one typed
model: the API's document is generated from it and every entry point validates with it.

Validation here is the contract (types, required fields, dates, lengths); making a clean article
of what passes is normalize.py's work.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import ErrorDetails

from feeds.common.errors import InvalidArticle
from store.models import as_utc
from store.urls import InvalidURL, canonical_url

# A category slug or name is a key in every store and a path segment in feed URLs.
MAX_CATEGORY_LENGTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TIMEZONE = "timezone"  # the validation context's key: the site's zone, for dates without time


def _text(value: str) -> str:
    if _SURROGATE.search(value):
        # JSON escapes can spell one ("\ud800"); it is not text and cannot be stored.
        raise ValueError("holds a lone UTF-16 surrogate: not Unicode text")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is required and must be a non-empty string")
    return value


def _http_url(value: str) -> str:
    try:
        canonical_url(value)
    except InvalidURL as exc:
        raise ValueError(f": {exc}") from None
    return value


Text = Annotated[str, AfterValidator(_text)]
Required = Annotated[str, AfterValidator(_not_blank), AfterValidator(_text)]
PushedDate = Annotated[
    datetime | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
                {"type": "null"},
            ],
            "description": "ISO 8601 with a zone (`2026-12-06T08:00:00+07:00`), or a date alone "
            "(`2026-12-06`: midnight in the site's time zone, QUANTAM_TIMEZONE).",
        }
    ),
]


class ArticlePush(BaseModel):
    """One article from a CMS. Pushing the same guid or URL again updates it; pushing an article
    that was taken down publishes it again. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, title="ArticlePush")

    url: Annotated[Required, AfterValidator(_http_url)] = Field(
        min_length=1, description="An absolute http(s) URL."
    )
    title: Required = Field(min_length=1, description="Not only spaces.")
    category: Text = Field(
        min_length=1,
        max_length=MAX_CATEGORY_LENGTH,
        description="A category slug such as `the-thao`; created if new.",
    )
    summary: Text | None = None
    content_html: Text | None = Field(None, description="HTML; it is sanitised.")
    author: Text | None = None
    language: Text | None = Field(
        None,
        description="ISO 639 code (`vi`, `en-US` is read as `en`); anything else, or none, "
        "means the category's language.",
    )
    guid: Text | None = Field(None, description="Defaults to the URL.")
    published: PushedDate = None
    updated: PushedDate = None
    tags: list[Text] | None = None
    image: Text | None = Field(None, description="The lead image's http(s) URL.")

    @field_validator("published", "updated", mode="before")
    @classmethod
    def _moment(cls, value: object, info: ValidationInfo) -> datetime | None:
        """A date-time with its zone, or a date alone: midnight in the site's zone."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 date-time string")
        site: tzinfo | None = (info.context or {}).get(TIMEZONE)
        if _DATE_ONLY.fullmatch(value):
            try:
                day = datetime.strptime(value, "%Y-%m-%d")
            except ValueError:
                raise ValueError(f"is not a date: {value!r}") from None
            return as_utc(day.replace(tzinfo=site)) if site else as_utc(day)
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"is not an ISO 8601 date-time: {value!r}") from None
        if moment.tzinfo is None:
            raise ValueError(
                "needs a time zone (e.g. 2024-05-01T08:00:00+07:00), or no time at all "
                "(2024-05-01: midnight in QUANTAM_TIMEZONE)"
            )
        return as_utc(moment)


def parse_push(data: object, site_timezone: tzinfo) -> ArticlePush:
    """The pushed article, checked; raises InvalidArticle naming the first field at fault."""
    if not isinstance(data, dict):
        raise InvalidArticle("the article must be a JSON object")
    try:
        return ArticlePush.model_validate(data, context={TIMEZONE: site_timezone})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
        if unknown:
            raise InvalidArticle(f"unknown field(s): {', '.join(unknown)}", unknown[0]) from None
        raise _invalid(errors[0], data) from None


def _invalid(error: ErrorDetails, data: dict[str, Any]) -> InvalidArticle:
    name = str(error["loc"][0]) if error["loc"] else ""
    kind, message = error["type"], error["msg"].removeprefix("Value error, ")
    if kind == "missing" and name == "category":
        why = "is required (a category slug such as 'the-thao')"
    elif kind in ("missing", "string_too_short") or (
        name in ("url", "title") and kind == "string_type"
    ):
        why = "is required and must be a non-empty string"
    elif name == "tags" and kind != "value_error":
        why = "must be a list of strings"
    elif kind == "string_type":
        why = "must be a string"
    elif kind == "string_too_long" and name == "category":
        why = (
            f"has {len(data[name]):,} characters; a category slug or name has at most "
            f"{MAX_CATEGORY_LENGTH}"
        )
    else:
        why = message
    return InvalidArticle(f"field '{name}'{'' if why.startswith(':') else ' '}{why}", name)
