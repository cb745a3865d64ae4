"""quantam's settings: one typed model, read from a TOML file and the environment.

Every setting `name` can be given as `name = ...` in the TOML file (QUANTAM_CONFIG or --config; at
the top level or under `[quantam]`) or as the environment variable QUANTAM_<NAME>; the
environment wins over the file, arguments to `load_settings` (command-line flags) win over both.
The model is the one table: its descriptions and bounds are what `quantam --help`, `quantam
settings --markdown` and the README's table print (tests/service/test_config.py checks the README
against it). The recommender's defaults are RelatedSettings' (recommender/settings.py).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from feeds.ingest.fetch import FetchLimits
from feeds.ingest.fulltext import FullTextSettings
from feeds.ingest.schedule import ScheduleSettings
from recommender.settings import MAX_K, RelatedSettings, SettingsError
from store.errors import redact

PREFIX = "QUANTAM_"
SECRET = "(set)"


class ConfigError(ValueError):
    """A setting has a value quantam cannot use; the message names the setting."""


# The recommender's defaults, declared once (recommender/settings.py).
_R = RelatedSettings()


def _s(default: Any, help: str, shown: str | None = None, **bounds: Any) -> Any:
    """A setting: its default, what it means, its bounds; `shown` is the default as the table
    prints it when the value itself would mislead (an empty URL that means "the store")."""
    extra: dict[str, Any] | None = {"shown": shown} if shown is not None else None
    return Field(default, description=help, json_schema_extra=cast(Any, extra), **bounds)


class Settings(BaseSettings):
    """Every setting, with its default, meaning and bounds."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="forbid", validate_default=False
    )

    store: str = _s(
        "sqlite:///./quantam.db",
        "Store URL: `sqlite:///path.db` (relative) or `sqlite:////abs/path.db`, or "
        "`redis://host:6379/0[?prefix=NAME]`, or `redis+cluster://host:7000` "
        "([docs/redis.md](docs/redis.md))",
    )
    base_url: str = _s("http://127.0.0.1:8000", "Public base URL used in feeds and the API")
    site_name: str = _s(
        "quantam",
        "The site's name: in feed titles (\"Thể thao – NAME\") and as the news sitemap's "
        "publication",
    )
    site_language: str = _s("vi", "The site's language (ISO 639), for the news sitemap")
    allow_private_fetch: bool = _s(
        False,
        "`1` allows fetching private, loopback, link-local and multicast addresses (refused by "
        "default, for feeds and WebSub pings alike)",
    )
    fetch_allow_networks: str = _s(
        "",
        "Comma-separated private networks that may be fetched anyway, e.g. `10.1.0.0/16` for an "
        "intranet CMS feed",
    )
    fetch_connect_timeout: float = _s(
        10.0, "Seconds to wait for a feed server to accept a connection", ge=0
    )
    fetch_read_timeout: float = _s(30.0, "Seconds to wait for each read from a feed server", ge=0)
    fetch_total_timeout: float = _s(
        60.0,
        "Seconds a whole exchange may take, connect to last byte, redirects, status line and "
        "headers included (a server dripping bytes cannot hold a worker)",
        ge=0,
    )
    fetch_max_bytes: int = _s(
        10 * 1024 * 1024,
        "Largest feed body read, counted after decoding (gzip, deflate), enforced while "
        "streaming with bounded memory",
        ge=0,
    )
    fetch_max_redirects: int = _s(5, "Redirects followed per fetch", ge=0)
    poll_interval: int = _s(900, "Seconds between polls of a feed that gives no hint", ge=0)
    poll_min_interval: int = _s(
        300, "Shortest interval a feed's `<ttl>` or Cache-Control may ask for", ge=0
    )
    poll_max_interval: int = _s(
        86400, "Longest interval a feed's `<ttl>` or Cache-Control may ask for", ge=0
    )
    backoff_base: int = _s(
        300, "Seconds before the first retry of a failing feed; doubles with each failure", ge=0
    )
    backoff_max: int = _s(43200, "Longest wait between retries of a failing feed", ge=0)
    poll_workers: int = _s(
        4, "Hosts polled in parallel (always one request at a time per host)", ge=0
    )
    poll_host_delay: float = _s(
        1.0,
        "Seconds between two requests to the same host (feed polls and article pages share it; "
        "a longer robots.txt `Crawl-delay` wins)",
        ge=0,
    )
    full_text_min_words: int = _s(
        150,
        "Sources with `full_text = auto`: an article whose feed text has fewer words gets its "
        "page read",
        ge=0,
    )
    full_text_per_poll: int = _s(
        20,
        "Article pages read per source after each poll (the rest at later polls or with "
        "`quantam fulltext`; `0`: none)",
        ge=0,
    )
    full_text_max_wait: float = _s(
        30.0,
        "A site asking for longer between requests (`Crawl-delay`) gets its next page at the "
        "next poll rather than holding a worker",
        ge=0,
    )
    timezone: str = _s(
        "Asia/Ho_Chi_Minh",
        "The site's time zone: a pushed or imported date without a time (`2026-12-06`) is "
        "midnight there; so are pages' times without an offset",
    )
    api_token: str = _s(
        "", "Bearer token of the write API; without it the write API answers 403", repr=False
    )
    websub_hub: str = _s(
        "", "WebSub hub URL: feeds link it, and it is pinged when a category gets new items"
    )
    websub_subscribe: bool = _s(
        True,
        "Subscribe to the WebSub hub a source's feed names (the callback is "
        "`QUANTAM_BASE_URL/websub/callback/<token>`, so the base URL must reach this service)",
    )
    websub_lease_seconds: int = _s(
        864000, "Lease asked of hubs (10 days); renewed when a fifth of it is left", ge=0
    )
    websub_poll_interval: int = _s(
        21600, "Seconds between fallback polls of a source its hub pushes", ge=0
    )
    queue_url: str = _s("", "Redis URL of the job queue for `quantam worker`", shown="(the store)")
    response_cache_mb: int = _s(
        128,
        "MiB that whole read answers (API, feeds) may hold in each web worker, everything they "
        "hold counted, served again without Flask (about 20,000 related answers); `0` turns it "
        "off",
        ge=0,
    )
    host: str = _s("127.0.0.1", "Address `quantam serve` listens on")
    port: int = _s(8000, "Port `quantam serve` listens on", ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _s(
        "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`"
    )
    related_k: int = _s(_R.k, "Related articles served per list", ge=1, le=MAX_K)
    related_min_score: float = _s(
        _R.min_score,
        "Relevance (the blended similarity) below which related places are filled from the "
        "category's latest",
        ge=0,
    )
    related_half_life_days: float = _s(
        _R.half_life_days, "Days apart at which an item's related score halves (0: no decay)", ge=0
    )
    related_max_age_days: float = _s(
        _R.max_age_days, "Most days between an article and its items (0: any)", ge=0
    )
    related_category_boost: float = _s(
        _R.category_boost, "Score boost for related items in the same category", ge=0
    )
    related_mmr_lambda: float = _s(
        _R.mmr_lambda, "Relevance vs diversity among takes on one story (1: relevance)", ge=0, le=1
    )
    related_diversity_threshold: float = _s(
        _R.diversity_threshold,
        "Similarity from which two items count as takes on one story for diversity (MMR)",
        ge=0,
    )
    related_duplicate_threshold: float = _s(
        _R.duplicate_threshold,
        "Similarity at which two articles are copies of one story",
        gt=0,
        le=1,
    )
    related_latent_weight: float = _s(
        _R.latent_weight,
        "Share of the latent-semantic (LSA) similarity in the blend lists rank by (0: TF-IDF)",
        ge=0,
        lt=1,
    )
    related_latent_dims: int = _s(
        _R.latent_dims, "Dimensions of the latent-semantic space", ge=2, le=512
    )
    related_single_concept_weight: float = _s(
        _R.single_concept_weight,
        "Relevance factor for an item sharing only one short concept with the article",
        ge=0,
        le=1,
    )
    related_title_weight: float = _s(
        _R.title_weight, "Weight of the headline in related-article vectors", ge=0
    )
    related_summary_weight: float = _s(
        _R.summary_weight, "Weight of the summary in related-article vectors", ge=0
    )
    related_body_weight: float = _s(
        _R.body_weight, "Weight of the body in related-article vectors", ge=0
    )
    related_max_df: float = _s(
        _R.max_df, "Terms in more than this share of articles are ignored", gt=0, le=1
    )
    related_threads: int = _s(
        _R.threads, "Threads for the related-articles similarity product", ge=0
    )
    related_auto_reindex_max: int = _s(
        _R.auto_reindex_max,
        "Refit the related model automatically while the store has at most this many",
        ge=0,
    )

    @field_validator("allow_private_fetch", "websub_subscribe", mode="before")
    @classmethod
    def _blank_is_off(cls, value: object) -> object:
        # `QUANTAM_ALLOW_PRIVATE_FETCH=` (set, empty) has always meant off.
        return False if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, not {value!r}")
        return value

    @field_validator("fetch_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in (n.strip() for n in value.split(",") if n.strip()):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone name such as Asia/Ho_Chi_Minh"
            ) from None
        return value

    @model_validator(mode="after")
    def _together(self) -> Settings:
        if self.poll_min_interval > self.poll_max_interval:
            raise ValueError("poll_min_interval must not exceed poll_max_interval")
        self.related  # noqa: B018 - RelatedSettings checks the related_* settings together
        return self

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact(value) if name == "store" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Settings() alone is the defaults (and its arguments); load_settings adds the file and
        # the environment, in their order.
        return (init_settings,)

    @property
    def fetch_limits(self) -> FetchLimits:
        return FetchLimits(
            connect_timeout=self.fetch_connect_timeout,
            read_timeout=self.fetch_read_timeout,
            total_timeout=self.fetch_total_timeout,
            max_bytes=self.fetch_max_bytes,
            max_redirects=self.fetch_max_redirects,
            allow_private=self.allow_private_fetch,
            allowed_networks=self.allowed_networks,
        )

    @property
    def allowed_networks(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.fetch_allow_networks.split(",") if n.strip())

    @property
    def fulltext(self) -> FullTextSettings:
        return FullTextSettings(
            min_words=self.full_text_min_words,
            per_poll=self.full_text_per_poll,
            max_wait=self.full_text_max_wait,
            site_timezone=ZoneInfo(self.timezone),
        )

    @property
    def schedule(self) -> ScheduleSettings:
        return ScheduleSettings(
            default_interval=self.poll_interval,
            min_interval=self.poll_min_interval,
            max_interval=self.poll_max_interval,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
        )

    @property
    def related(self) -> RelatedSettings:
        """The related_* settings, without their prefix, as the recommender's settings."""
        try:
            return RelatedSettings(
                **{
                    name.removeprefix("related_"): getattr(self, name)
                    for name in type(self).model_fields
                    if name.startswith("related_")
                }
            )
        except SettingsError as exc:
            raise ValueError(str(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)


def env_name(name: str) -> str:
    return f"{PREFIX}{name.upper()}"


class _Environment(EnvSettingsSource):
    """QUANTAM_* variables from a given mapping (the process's environment by default)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self.environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self.environ.items() if k.startswith(PREFIX)}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    data = data.get("quantam", data)
    for key in data:
        if key not in Settings.model_fields:
            raise ConfigError(f"{path}: unknown setting {key!r}")
    return dict(data)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults, then the TOML file, then QUANTAM_* variables, then explicit overrides."""
    environ = dict(os.environ if environ is None else environ)
    config_file = config_file or environ.get("QUANTAM_CONFIG")
    path = Path(config_file) if config_file else None
    from_file = _read_file(path) if path else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    env = _Environment(Settings, environ)
    env_values = env()
    # Highest first, as pydantic-settings merges its sources.
    sources = (
        InitSettingsSource(Settings, init_kwargs=given),
        env,
        InitSettingsSource(Settings, init_kwargs=from_file),
    )
    try:
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            merged.update(source())
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, given, env_values, path) from None


def _config_error(
    exc: ValidationError, given: dict[str, Any], env: dict[str, Any], path: Path | None
) -> ConfigError:
    """The first bad value, named as the user gave it: the variable, the file's key or the flag."""
    error = exc.errors(include_url=False)[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    message = error["msg"].removeprefix("Value error, ")
    if not name:  # a rule across settings: the message names them
        return ConfigError(message)
    if name in given:
        where, label = "command line", name
    elif name in env:
        where, label = "environment", env_name(name)
    else:
        where, label = str(path), name
    kind, value = error["type"], error.get("input")
    field = Settings.model_fields[name]
    if kind in ("int_parsing", "int_from_float"):
        why = f"must be a whole number, not {value!r}"
    elif kind == "float_parsing":
        why = f"must be a number, not {value!r}"
    elif kind == "bool_parsing":
        why = f"must be 1 or 0 (true/false), not {value!r}"
    elif kind in ("greater_than_equal", "greater_than") and _bound(field, "ge", "gt") == 0:
        why = f"must not be negative, got {value!r}"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = _bound(field, "ge", "gt"), _bound(field, "le", "lt")
        why = (
            f"must be between {low:g} and {high:g}, not {value!r}"
            if low is not None and high is not None
            else f"{message.lower()}, not {value!r}"
        )
    elif kind == "literal_error":
        why = f"must be {error.get('ctx', {}).get('expected', '')}, not {value!r}"
    else:
        return ConfigError(f"{name}: {message}")
    return ConfigError(f"{where}: {label} {why}")


def _bound(field: FieldInfo, *kinds: str) -> float | None:
    """The field's lower (ge, gt) or upper (le, lt) bound."""
    for constraint in field.metadata:
        for kind in kinds:
            found = getattr(constraint, kind, None)
            if found is not None:
                return float(found)
    return None


def shown_default(name: str) -> str:
    """A setting's default as the table prints it."""
    field = Settings.model_fields[name]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown" in extra:
        return str(extra["shown"])
    value = field.default
    if isinstance(value, bool):
        return "1" if value else "0"
    return "(none)" if value == "" else str(value)


def settings_help() -> str:
    """The settings table for --help."""
    return "\n".join(
        f"  {env_name(name):<32} {field.description} (default: {shown_default(name)})"
        for name, field in Settings.model_fields.items()
    )


def settings_markdown() -> str:
    """The settings table for the README (between its settings-table markers)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | `{shown_default(name)}` | {field.description} |")
    return "\n".join(rows)
