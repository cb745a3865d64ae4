"""The settings model (service/config.py): one table for the file, the environment, the flags,
`quantam --help`, `quantam settings` and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recommender.settings import RelatedSettings
from service.config import ConfigError, Settings, env_name, load_settings, settings_markdown
from tests.support.cli import quantam
from tests.support.env import ROOT


def test_the_readme_table_is_the_models() -> None:
    """Regenerate with `quantam settings --markdown` when this fails."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings-table[^>]*-->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert found, "README.md has no settings-table markers"
    assert found.group(1) == settings_markdown()


def test_help_lists_every_setting_with_its_default(tmp_path: Path) -> None:
    shown = quantam(tmp_path / "q.db", "--help").stdout
    for name in Settings.model_fields:
        assert env_name(name) in shown, name
    assert "QUANTAM_RELATED_K" in shown and f"(default: {RelatedSettings().k})" in shown


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "quantam.toml"
    config.write_text(
        '[quantam]\nsite_name = "Báo Mới"\nport = 9000\nrelated_k = 8\nlog_level = "debug"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={"QUANTAM_PORT": "9100"})
    assert (settings.site_name, settings.port, settings.log_level) == ("Báo Mới", 9100, "DEBUG")
    assert settings.related.k == 8 and settings.related.pool == RelatedSettings().pool
    flagged = load_settings(environ={"QUANTAM_CONFIG": str(config)}, port=9200)
    assert (flagged.site_name, flagged.port) == ("Báo Mới", 9200)
    assert load_settings(environ={}).related == RelatedSettings()
    blank = load_settings(environ={"QUANTAM_WEBSUB_SUBSCRIBE": "", "QUANTAM_WEBSUB_HUB": ""})
    assert blank.websub_subscribe is False and blank.websub_hub == ""


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"QUANTAM_FETCH_MAX_BYTES": "lots"}, "QUANTAM_FETCH_MAX_BYTES must be a whole number"),
        ({"QUANTAM_POLL_HOST_DELAY": "-1"}, "QUANTAM_POLL_HOST_DELAY must not be negative"),
        ({"QUANTAM_PORT": "70000"}, "QUANTAM_PORT must be between 0 and 65535"),
        ({"QUANTAM_RELATED_MMR_LAMBDA": "2"}, "QUANTAM_RELATED_MMR_LAMBDA must be between 0 and 1"),
        ({"QUANTAM_WEBSUB_SUBSCRIBE": "maybe"}, "QUANTAM_WEBSUB_SUBSCRIBE must be 1 or 0"),
        ({"QUANTAM_LOG_LEVEL": "LOUD"}, "QUANTAM_LOG_LEVEL must be 'DEBUG'"),
        ({"QUANTAM_BASE_URL": "news.vn"}, "base_url: must be an http(s) URL"),
        ({"QUANTAM_FETCH_ALLOW_NETWORKS": "10.0.0.0/8,mạng"}, "'mạng' is not a network"),
        ({"QUANTAM_POLL_MIN_INTERVAL": "90000"}, "poll_min_interval must not exceed"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(source: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_settings(environ=source)


def test_a_bad_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "quantam.toml"
    config.write_text("poll_workers = -2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{re.escape(str(config))}: poll_workers must not be"):
        load_settings(config, environ={})
    config.write_text("colour = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "none.toml", environ={})


def test_settings_show_values_with_secrets_redacted(tmp_path: Path) -> None:
    secret_env = {"QUANTAM_API_TOKEN": "t0ken-secret", "QUANTAM_PORT": "8123"}
    shown = quantam(tmp_path / "q.db", "settings", env=secret_env).stdout
    assert "QUANTAM_PORT=8123" in shown and "QUANTAM_API_TOKEN=(set)" in shown
    assert "t0ken-secret" not in shown
    settings = load_settings(
        environ={"QUANTAM_STORE": "redis://:hunter2@127.0.0.1:6379/0", **secret_env}
    )
    assert "hunter2" not in repr(settings) and "t0ken-secret" not in repr(settings)
    table = quantam(tmp_path / "q.db", "settings", "--markdown").stdout
    assert table.strip() == settings_markdown()
