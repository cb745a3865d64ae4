"""`quantam reindex` and `quantam related` against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.config import ConfigError, load_settings
from store.models import Alias, IngestBatch
from store.sqlite import SQLiteStore
from tests.support.related_fixture import articles


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'quantam.db'}"
    store = SQLiteStore(url)
    every = articles()
    aliases = [Alias("url", a.url, a.id) for a in every]  # as ingestion records them
    store.commit(IngestBatch(articles=every, aliases=aliases))
    store.close()
    return url


def run(db: str, *args: str):
    result = CliRunner().invoke(cli, ["--store", db, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_reindex_then_related_by_id_and_url(db: str) -> None:
    assert "reindexed 8 articles: 8 related lists" in run(db, "reindex")
    out = run(db, "related", "bong-da-1", "-k", "2", "--explain")
    lines = out.splitlines()
    assert lines[0].startswith("Tuyển Việt Nam thắng Thái Lan")
    assert lines[2].startswith(" 1. 0.") and "Xuân Son lập cú đúp" in lines[2]
    assert lines[3].strip().startswith("why: ")
    by_url = run(db, "related", "https://NEWS.example/the-thao/bong-da-1.html", "-k", "2")
    assert by_url.splitlines()[2] == lines[2]


def test_related_all_json_lines(db: str) -> None:
    run(db, "reindex")
    rows = [json.loads(line) for line in run(db, "related", "--all", "--json").splitlines()]
    assert {r["id"] for r in rows} == {a.id for a in articles()}
    for row in rows:
        assert set(row) == {"id", "url", "category", "related"}
        assert row["url"].startswith("https://news.example/")
        for item in row["related"]:
            assert set(item) == {"id", "url", "score", "fill"}
            assert item["id"] != row["id"]
    football = next(r for r in rows if r["id"] == "bong-da-1")
    assert football["related"][0]["id"] == "bong-da-2"
    assert football["related"][0]["url"].endswith("/bong-da-2.html")


def test_related_errors_are_actionable(db: str) -> None:
    result = CliRunner().invoke(cli, ["--store", db, "related", "nope"])
    assert result.exit_code != 0 and "no article 'nope'" in result.output
    result = CliRunner().invoke(cli, ["--store", db, "related"])
    assert result.exit_code != 0 and "give one article URL or id, or --all" in result.output


def test_related_settings_come_from_the_environment() -> None:
    settings = load_settings(environ={"QUANTAM_RELATED_K": "8", "QUANTAM_RELATED_MAX_DF": "0.2"})
    assert settings.related.k == 8 and settings.related.stored_k == 12
    assert settings.related.max_df == 0.2
    with pytest.raises(ConfigError, match="QUANTAM_RELATED_K must be between 1 and 20"):
        load_settings(environ={"QUANTAM_RELATED_K": "30"})
