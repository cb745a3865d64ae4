"""`quantam import` as a real process against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from store.sqlite import SQLiteStore
from tests.support.cli import quantam


def test_import_reports_each_bad_row_and_imports_the_rest(tmp_path: Path) -> None:
    rows = [
        {
            "title": "Tin một",
            "text": "Nội dung.",
            "url": "https://t.vn/1",
            "published": "2024-05-01",
        },
        {"title": "Thiếu URL", "text": "x"},
        {"title": "Tin ba", "content_html": "<p>Ba</p>", "url": "https://t.vn/3", "id": "x"},
    ]
    path = tmp_path / "tin.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{oops\n")
    csv_path = tmp_path / "tin.csv"
    csv_path.write_text("url,title,text\nhttps://t.vn/5,Tin năm,Năm\n")
    db = tmp_path / "q.db"
    errors = tmp_path / "loi.jsonl"
    result = quantam(
        db, "import", str(path), str(csv_path), "--category", "Thời sự", "--errors", str(errors)
    )
    assert f"{path}: 2 new, 0 updated, 0 unchanged, 2 skipped" in result.stdout
    assert "row 2: skipped: field 'url' is required" in result.stdout
    assert "row 4: skipped: not a JSON object" in result.stdout
    assert "fields ignored: id" in result.stdout
    assert f"{csv_path}: 1 new" in result.stdout
    assert "tin.jsonl" in result.stderr  # the progress bar
    logged = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(e["row"], e["file"]) for e in logged] == [(2, str(path)), (4, str(path))]
    store = SQLiteStore(f"sqlite:///{db}")
    assert store.count_articles("thoi-su") == 3 and store.get_category("thoi-su").name == "Thời sự"
    store.close()
    again = quantam(db, "import", str(path), "--category", "thoi-su")
    assert "0 new" in again.stdout and "went on after row 4" in again.stdout
    missing = quantam(db, "import", str(tmp_path / "khong-co.jsonl"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    unknown = tmp_path / "tin.txt"
    unknown.write_text("tin tức\n")
    odd = quantam(db, "import", str(unknown), check=False)
    assert odd.returncode == 1 and "cannot tell its format" in odd.stderr
