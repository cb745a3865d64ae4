"""`python -m recommender.evaluate` on a tiny corpus written here (not the shared data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from recommender.evaluate import main
from tests.related_fixture import TEXTS


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "articles.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for aid, category, title, text, _ in TEXTS:
            record = {"id": aid, "title": title, "text": text, "category": category}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_json_report_has_every_system_and_metric(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--corpus", str(corpus), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"systems"}
    assert set(result["systems"]) == {"quantam", "baseline", "tantivy"}
    for scores in result["systems"].values():
        assert set(scores) == {
            "precision_at_5",
            "mrr",
            "coverage",
            "near_duplicate_pairs",
            "seconds",
        }
        assert 0.0 <= scores["precision_at_5"] <= 1.0
    assert result["systems"]["quantam"]["near_duplicate_pairs"] == 0
    assert result["systems"]["baseline"]["near_duplicate_pairs"] > 0  # the syndicated copy


def test_table_and_errors(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--corpus", str(corpus), "--systems", "quantam", "--set", "mmr_lambda=1"]) == 0
    out = capsys.readouterr().out
    assert "precision@5" in out and out.splitlines()[-1].startswith("quantam")
    with pytest.raises(SystemExit):
        main(["--corpus", str(corpus.parent / "missing.jsonl.gz")])
    with pytest.raises(SystemExit):
        main(["--corpus", str(corpus), "--set", "nope=1"])
