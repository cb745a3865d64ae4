"""quantam's settings: one table with defaults, read from a TOML file and the environment.

Every setting `name` can be given as `name = ...` in the TOML file (QUANTAM_CONFIG or --config)
or as the environment variable QUANTAM_<NAME>; the environment wins over the file, and both win
over the defaults. `quantam --help` and the README list this table.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.ingest.fetch import FetchLimits
from feeds.ingest.fulltext import FullTextSettings
from feeds.ingest.schedule import ScheduleSettings
from recommender.settings import RelatedSettings, SettingsError


class ConfigError(ValueError):
    """A setting has a value quantam cannot use; the message names the setting."""


# The recommender's defaults, declared once (recommender/settings.py)
_R = RelatedSettings()


def _s(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    store: str = _s(
        "sqlite:///./quantam.db",
        "Store URL: sqlite:///path.db, redis://host:6379/0[?prefix=NAME] or redis+cluster://host:7000",
    )
    base_url: str = _s("http://127.0.0.1:8000", "Public base URL used in feeds and the API")
    site_name: str = _s(
        "quantam",
        "The site's name: in feed titles and as the publication in the news sitemap",
    )
    site_language: str = _s("vi", "The site's language (ISO 639), for the news sitemap")
    allow_private_fetch: bool = _s(
        False, "Allow fetching private, loopback and link-local addresses (1 to allow)"
    )
    fetch_allow_networks: str = _s(
        "", "Comma-separated private networks (CIDR) that may be fetched, e.g. 10.1.0.0/16"
    )
    fetch_connect_timeout: float = _s(10.0, "Seconds to wait for a feed server to accept")
    fetch_read_timeout: float = _s(30.0, "Seconds to wait for each read from a feed server")
    fetch_total_timeout: float = _s(
        60.0, "Seconds a whole fetch may take, connect to last byte (headers included)"
    )
    fetch_max_bytes: int = _s(
        10 * 1024 * 1024, "Largest feed body read, in bytes (after gzip/deflate decoding)"
    )
    fetch_max_redirects: int = _s(5, "Redirects followed per fetch")
    poll_interval: int = _s(900, "Seconds between polls of a feed that gives no hint")
    poll_min_interval: int = _s(300, "Shortest interval a feed's ttl/Cache-Control can ask for")
    poll_max_interval: int = _s(86400, "Longest interval a feed's ttl/Cache-Control can ask for")
    backoff_base: int = _s(300, "Seconds before the first retry of a failing feed (doubles)")
    backoff_max: int = _s(43200, "Longest wait between retries of a failing feed")
    poll_workers: int = _s(4, "Hosts polled in parallel (one request at a time per host)")
    poll_host_delay: float = _s(1.0, "Seconds between two requests to the same host")
    full_text_min_words: int = _s(
        150, "Sources with full_text=auto: read the article's page when the feed has fewer words"
    )
    full_text_per_poll: int = _s(
        20, "Article pages read per source after each poll (the rest at later polls; 0: none)"
    )
    full_text_max_wait: float = _s(
        30.0, "A site asking for longer between requests (Crawl-delay) waits for the next poll"
    )
    timezone: str = _s(
        "Asia/Ho_Chi_Minh", "The site's time zone: pushed dates without a time, page times"
    )
    queue_url: str = _s("", "Redis URL for the job queue (default: the store, when it is Redis)")
    websub_hub: str = _s("", "WebSub hub URL: feeds link it and it is pinged on new items")
    websub_subscribe: bool = _s(
        True, "Subscribe to the WebSub hub a source's feed names (callback under BASE_URL)"
    )
    websub_lease_seconds: int = _s(864000, "Lease asked of hubs (seconds; renewed before it ends)")
    websub_poll_interval: int = _s(
        21600, "Seconds between fallback polls of a source its hub pushes"
    )
    api_token: str = _s("", "Bearer token for the write API (empty: write API disabled)")
    host: str = _s("127.0.0.1", "Address `quantam serve` listens on")
    port: int = _s(8000, "Port `quantam serve` listens on")
    log_level: str = _s("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR")
    response_cache_mb: int = _s(
        128, "MiB whole read answers may hold in each web worker, all counted (0: off)"
    )
    related_k: int = _s(_R.k, "Related articles served per list (at most 20)")
    related_min_score: float = _s(
        _R.min_score,
        "Relevance (the blended similarity) below which related places are filled from the "
        "category's latest",
    )
    related_half_life_days: float = _s(
        _R.half_life_days, "Days apart at which an item's related score halves (0: no decay)"
    )
    related_max_age_days: float = _s(
        _R.max_age_days, "Most days between an article and its items (0: any)"
    )
    related_category_boost: float = _s(
        _R.category_boost, "Score boost for related items in the same category"
    )
    related_mmr_lambda: float = _s(
        _R.mmr_lambda, "Relevance vs diversity among takes on one story (1: relevance)"
    )
    related_diversity_threshold: float = _s(
        _R.diversity_threshold,
        "Similarity from which two items count as takes on one story for diversity (MMR)",
    )
    related_duplicate_threshold: float = _s(
        _R.duplicate_threshold, "Similarity at which two articles are copies of one story"
    )
    related_latent_weight: float = _s(
        _R.latent_weight,
        "Share of the latent-semantic (LSA) similarity in the blend lists rank by (0: TF-IDF)",
    )
    related_latent_dims: int = _s(_R.latent_dims, "Dimensions of the latent-semantic space")
    related_single_concept_weight: float = _s(
        _R.single_concept_weight,
        "Relevance factor for an item sharing only one short concept with the article",
    )
    related_title_weight: float = _s(
        _R.title_weight, "Weight of the headline in related-article vectors"
    )
    related_summary_weight: float = _s(
        _R.summary_weight, "Weight of the summary in related-article vectors"
    )
    related_body_weight: float = _s(_R.body_weight, "Weight of the body in related-article vectors")
    related_max_df: float = _s(_R.max_df, "Terms in more than this share of articles are ignored")
    related_threads: int = _s(_R.threads, "Threads for the related-articles similarity product")
    related_auto_reindex_max: int = _s(
        _R.auto_reindex_max,
        "Refit the related model automatically while the store has at most this many",
    )

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
        return RelatedSettings(
            **{
                f.name.removeprefix("related_"): getattr(self, f.name)
                for f in fields(self)
                if f.name.startswith("related_")
            }
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env_name(name: str) -> str:
    return f"QUANTAM_{name.upper()}"


_KINDS = {int: "a whole number", float: "a number", str: "text"}


def _convert(name: str, kind: type, value: Any, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: {name} must be 1 or 0 (true/false), not {value!r}")
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be {_KINDS[kind]}, not {value!r}") from None
    if kind in (int, float) and converted < 0:
        raise ConfigError(f"{where}: {name} must not be negative, got {value!r}")
    return converted


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults, then the TOML file, then QUANTAM_* variables, then explicit overrides."""
    environ = dict(os.environ if environ is None else environ)
    config_file = config_file or environ.get("QUANTAM_CONFIG")
    types = {f.name: _type_of(f) for f in fields(Settings)}
    values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        data = data.get("quantam", data)
        for key, value in data.items():
            if key not in types:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _convert(key, types[key], value, str(path))
    for name, kind in types.items():
        variable = env_name(name)
        if variable in environ:
            values[name] = _convert(variable, kind, environ[variable], "environment")
    for name, value in overrides.items():
        if value is not None:
            values[name] = _convert(name, types[name], value, "command line")
    settings = Settings(**values)
    _validate(settings)
    return settings


def _type_of(f: dataclasses.Field) -> type:
    return {"str": str, "bool": bool, "int": int, "float": float}[str(f.type)]


def _validate(s: Settings) -> None:
    if s.poll_min_interval > s.poll_max_interval:
        raise ConfigError("poll_min_interval must not exceed poll_max_interval")
    if not s.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url must be an http(s) URL, not {s.base_url!r}")
    for network in s.allowed_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"fetch_allow_networks: {network!r} is not a network such as 10.0.0.0/8"
            ) from None
    try:
        s.related  # noqa: B018 - validates the related_* settings together
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone: {s.timezone!r} is not a time zone name such as Asia/Ho_Chi_Minh"
        ) from None
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level must be DEBUG, INFO, WARNING or ERROR, not {s.log_level!r}")


def settings_help() -> str:
    """The settings table for --help and the README."""
    lines = []
    for f in fields(Settings):
        lines.append(f"  {env_name(f.name):<32} {f.metadata['help']} (default: {f.default})")
    return "\n".join(lines)
