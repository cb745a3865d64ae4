"""`python -m recommender.evaluate` on a tiny corpus written here (not the shared data)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from recommender.evaluate import lead, main
from tests.support.related_fixture import TEXTS


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
    assert set(result) == {"text", "articles", "systems"}
    assert result["text"] == "full" and result["articles"] == len(TEXTS)
    assert set(result["systems"]) == {"quantam", "baseline", "tantivy"}
    for scores in result["systems"].values():
        assert set(scores) == {
            "precision_at_5",
            "mrr",
            "nonfill_precision",
            "fill_rate",
            "off_label_nonfill",
            "coverage",
            "near_duplicate_pairs",
            "seconds",
        }
        assert 0.0 <= scores["precision_at_5"] <= 1.0
        assert 0.0 <= scores["fill_rate"] <= 1.0
    assert result["systems"]["quantam"]["near_duplicate_pairs"] == 0
    assert result["systems"]["baseline"]["near_duplicate_pairs"] > 0  # the syndicated copy
    # the other systems never fill: every place is a recommendation
    assert result["systems"]["baseline"]["fill_rate"] == 0.0


def test_short_variant_keeps_headline_and_lead(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--corpus", str(corpus), "--text", "short", "--systems", "quantam", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == "short"
    quantam = result["systems"]["quantam"]
    # with too few articles for the latent space, weak items become marked fill
    assert quantam["fill_rate"] > 0.0
    assert quantam["nonfill_precision"] >= quantam["precision_at_5"]


def test_lead_is_the_first_sentence_cut_to_40_words() -> None:
    assert lead("Bão Yagi đổ bộ. Hàng nghìn cây đổ.") == "Bão Yagi đổ bộ."
    assert lead("Dòng đầu không dấu chấm\nDòng hai.") == "Dòng đầu không dấu chấm"
    # a dot inside an abbreviation or a number does not end the sentence
    assert lead("TP.HCM có 1.000 ca mắc. Sau đó...") == "TP.HCM có 1.000 ca mắc."
    long = " ".join(f"từ{i}" for i in range(100))
    assert lead(long) == " ".join(f"từ{i}" for i in range(40))


def test_table_and_errors(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--corpus", str(corpus), "--systems", "quantam", "--set", "mmr_lambda=1"]) == 0
    out = capsys.readouterr().out
    assert "precision@5" in out and out.splitlines()[-1].startswith("quantam")
    with pytest.raises(SystemExit):
        main(["--corpus", str(corpus.parent / "missing.jsonl.gz")])
    with pytest.raises(SystemExit):
        main(["--corpus", str(corpus), "--set", "nope=1"])
