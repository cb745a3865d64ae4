"""The JSON the API answers with, as typed models: /openapi.json is generated from these.

Answers are built as plain dicts shaped by these models (`shapes.py`) and written by orjson: a
related answer built through pydantic objects cost more than the benchmark's budget allows (see
docs/benchmarks/serve.md). The schemathesis run (tests/service/http/test_openapi.py) holds every
answer to exactly the fields declared here, and tests/service/http/test_contract.py each shape to
its model.

Times are RFC 3339 in UTC with a `Z` (`2024-05-01T01:00:00Z`, fractions of a second only when
there are some): one format for every time in every answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from feeds.ingest.push import MAX_CATEGORY_LENGTH
from feeds.ingest.websub import STATES
from service.core import LISTS_WAIT
from store.editorial import MAX_BLOCKS, MAX_PINS
from store.models import FULL_TEXT_POLICIES, FULL_TEXT_STATUSES, ID_POLICIES

URL_DOC = "An absolute http(s) URL."

FullTextPolicy = Literal["auto", "always", "never"]
FullTextStatus = Literal["pending", "full", "summary", "failed"]
IdPolicy = Literal["guid", "link", "link_date_title"]
WebSubState = Literal["pending", "subscribed", "denied", "failed", "unsubscribed"]
# Source ids are 64-bit signed integers in both stores; a larger one is no source (404).
MAX_SOURCE_ID = 2**63 - 1

# The values are the stores' and the subscriber's; the literals above are checked against them
# when this module loads, so a value added there cannot be missing here.
for _literal, _values in (
    (FullTextPolicy, FULL_TEXT_POLICIES),
    (FullTextStatus, FULL_TEXT_STATUSES),
    (IdPolicy, ID_POLICIES),
    (WebSubState, STATES),
):
    if get_args(_literal) != tuple(_values):
        raise RuntimeError(f"{_literal} differs from {_values}")


class Answer(BaseModel):
    """A response body: every field always present (null when unknown). Open to fields added
    later (no additionalProperties: false), so clients keep working when one is."""


class ArticleItem(Answer):
    """An article as a list item: enough for a teaser."""

    id: str = Field(description="Stable id: a hash of the canonical URL.")
    url: str = Field(description="The story's canonical URL.")
    title: str
    summary: str = Field(description="Plain text, shortened.")
    image: str | None = Field(description="The lead image's URL.")
    published: datetime = Field(description="UTC; when first seen if the source gave none.")
    category: str = Field(description="The category's slug.")


class FullText(Answer):
    """Whether an article's text is the whole article, and where it came from."""

    status: FullTextStatus = Field(
        description="`pending`: its page is still to be read; `full`: `text` is the whole "
        "article; `summary`: only the feed's summary (the source's policy); `failed`: the page "
        "gave no article (`reason` says why), the summary is kept."
    )
    origin: Literal["feed", "push", "page"] = Field(
        description="Where the text came from: the feed entry, the CMS push, or the article's "
        "own page."
    )
    html: str | None = Field(description="The page's main text as sanitised HTML (origin `page`).")
    reason: str | None = Field(description="Why there is no full text, in words.")
    fetched_at: datetime | None = Field(description="When the page was read.")
    page_url: str | None = Field(description="The page read, after redirects.")


class ArticleDetail(ArticleItem):
    """Everything quantam knows about an article."""

    guid: str | None
    content_html: str = Field(description="Sanitised HTML: no scripts, no styles.")
    text: str = Field(description="The body as plain text.")
    author: str | None
    updated: datetime | None = Field(description="When the story was last edited, if ever.")
    first_seen: datetime
    tags: list[str]
    language: str = Field(description="ISO 639 code, e.g. `vi`.")
    source_id: int | None = Field(description="The feed it came from; null when pushed.")
    full_text: FullText | None = Field(
        description="Whether `text` is the whole article; null for articles stored before "
        "quantam read article pages."
    )


class PushResult(ArticleDetail):
    """The article as stored, and what became of the related lists."""

    related_lists: Literal["updated", "pending"] = Field(
        description="Whether related lists included the article when the push answered; "
        f"`pending` ones follow shortly (the push waits at most {LISTS_WAIT:g} s for them)."
    )


class RelatedItem(ArticleItem):
    """A related story, with why it was chosen."""

    score: float = Field(description="Similarity; 0 for a fill item.")
    reason: list[str] = Field(description="The shared terms that make it related.")
    fill: bool = Field(
        description="True for the category's latest story, used when too few are related."
    )


class RelatedList(Answer):
    """The article asked about and its related stories, best first. Exclusions always hold."""

    article: ArticleItem
    items: list[RelatedItem]


class CategoryFeeds(Answer):
    rss: str = Field(description=URL_DOC)
    atom: str = Field(description=URL_DOC)
    json_: str = Field(alias="json", description=URL_DOC)


class Category(Answer):
    slug: str = Field(examples=["the-thao"])
    name: str = Field(examples=["Thể thao"])
    language: str
    articles: int = Field(ge=0)
    feeds: CategoryFeeds
    feed_full_text: bool = Field(
        description="Whether the category's feeds carry articles' extracted full text (`quantam "
        "categories edit --feed-full-text`); the description stays the summary."
    )


class CategoryList(Answer):
    categories: list[Category]


class CategoryLatest(Answer):
    category: Category
    items: list[ArticleItem]


class ArticlePage(Answer):
    """One page of articles, newest first."""

    items: list[ArticleItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


class FullTextCounts(Answer):
    """How many of the source's articles have each full-text status."""

    pending: int = Field(ge=0)
    full: int = Field(ge=0)
    summary: int = Field(ge=0)
    failed: int = Field(ge=0)


class WebSubSubscription(Answer):
    """WebSub: pushed by the feed's hub (polling continues, less often)."""

    state: WebSubState | None = Field(
        description="The subscription to the hub the feed names; null when it names none."
    )
    hub: str | None
    topic: str | None = Field(description="The feed's self URL.")
    lease_until: datetime | None
    error: str | None = Field(description="The last problem, in words.")


class Source(Answer):
    """A feed quantam polls, and how polling it went."""

    id: int
    url: str = Field(description=URL_DOC)
    name: str
    category: str
    status: Literal["new", "ok", "error", "disabled"]
    enabled: bool
    articles: int = Field(ge=0)
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None = Field(description="HTTP status of the last fetch.")
    last_error: str | None = Field(description="The last failure, in words.")
    last_warning: str | None = Field(description="A recoverable feed problem.")
    disabled_reason: str | None
    next_due_at: datetime | None
    id_policy: IdPolicy = Field(description="How the feed's entries are told apart.")
    id_policy_reason: str | None
    full_text: FullTextPolicy = Field(
        description="When article pages are read: `auto` when the feed's text is short "
        "(QUANTAM_FULL_TEXT_MIN_WORDS), `always`, `never`."
    )
    full_text_articles: FullTextCounts
    full_text_error: str | None = Field(
        description="Why the last article page that failed gave no text."
    )
    full_text_error_at: datetime | None
    websub: WebSubSubscription


class SourceList(Answer):
    sources: list[Source]


class Health(Answer):
    status: Literal["ok"]
    store: str = Field(description="The store's kind: `sqlite` or `redis`.")
    articles: int = Field(ge=0)
    index_age_seconds: float | None = Field(
        description="Age of the related-stories index; null when none."
    )


class Unhealthy(Answer):
    status: Literal["unavailable"]
    store: str = Field(description="Why the store cannot be reached (never its address).")


def _no_default(schema: dict[str, Any]) -> None:
    """Optional in an answer, never defaulted: the field is absent, not empty."""
    schema.pop("default", None)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(json_schema_extra={"format": "uri-reference", "examples": ["about:blank"]})
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field("", json_schema_extra=_no_default)
    parameter: str = Field(
        "",
        description="The query parameter or body field at fault (400 only).",
        json_schema_extra=_no_default,
    )
    source_id: int = Field(
        0, description="The existing source (409 only).", json_schema_extra=_no_default
    )


class OpenAPIDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]


class JSONFeedItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str


class JSONFeed(BaseModel):
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""

    model_config = ConfigDict(extra="allow")

    version: Literal["https://jsonfeed.org/version/1.1"]
    title: str
    items: list[JSONFeedItem]


# -- request bodies ----------------------------------------------------------------------------

CategorySlug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_CATEGORY_LENGTH,
        description="A category slug such as `the-thao`; created if new.",
    ),
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    return value


class SourceCreate(BaseModel):
    """A feed to poll. Other fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    url: Annotated[str, AfterValidator(_not_blank)] = Field(min_length=1, description=URL_DOC)
    category: Annotated[CategorySlug, AfterValidator(_not_blank)]
    title: str | None = Field(None, description="The source's display name.")
    name: str | None = Field(None, description="Names (or renames) the category.")
    full_text: FullTextPolicy | None = Field(
        None, description="When article pages are read (default `auto`)."
    )


class SourceEdit(BaseModel):
    """What can be changed about a source; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    full_text: FullTextPolicy | None = Field(None, description="When article pages are read.")
    title: str | None = Field(None, description="The source's display name.")


# -- editors' overrides of a related list (service/http/overrides.py) --------------------------

# Article ids are hex digests of 16 characters; 200 leaves room for ids a CMS made, and bounds
# what one body can make us look up (MAX_PINS + MAX_BLOCKS ids).
MAX_ID_LENGTH = 200
ArticleRef = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


def _whole(value: Any) -> Any:
    """`3.0` is the integer 3 in JSON (and JSON Schema); `"3"` and `3.5` stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeInt = Annotated[int, BeforeValidator(_whole)]


class OverridePin(BaseModel):
    """Show the article `id` at `position` (1 = first) of this article's related list."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: ArticleRef = Field(description="The pinned article.")
    position: WholeInt = Field(ge=1, le=MAX_PINS, description="1 is the first place.")


class Overrides(BaseModel):
    """The whole set of an article's overrides: a PUT replaces what was there; `{}` clears."""

    model_config = ConfigDict(extra="forbid", strict=True)

    pin: list[OverridePin] = Field(default_factory=list, max_length=MAX_PINS)
    block: list[ArticleRef] = Field(
        default_factory=list, max_length=MAX_BLOCKS, description="Articles never in this list."
    )


class OverridesAnswer(Answer):
    """An article's overrides as stored."""

    article_id: str
    pin: list[OverridePin] = Field(description="Pinned articles, by position.")
    block: list[str] = Field(description="Articles never in this list.")
