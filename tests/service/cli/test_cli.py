"""The `quantam` command line, run as a real process against a real SQLite file."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from store.sqlite import SQLiteStore
from tests.support.cli import quantam
from tests.support.compression import bomb
from tests.support.env import FIXTURES, ROOT
from tests.support.feedbuilder import rss, story
from tests.support.feedserver import FeedServer, Reply

FEEDS = FIXTURES / "feeds"


def test_help_documents_the_settings(tmp_path: Path) -> None:
    out = quantam(tmp_path / "q.db", "--help").stdout
    for name in (
        "QUANTAM_STORE",
        "QUANTAM_BASE_URL",
        "QUANTAM_ALLOW_PRIVATE_FETCH",
        "QUANTAM_FETCH_MAX_BYTES",
        "QUANTAM_FETCH_READ_TIMEOUT",
    ):
        assert name in out


def test_ingest_files_stores_every_entry(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    result = quantam(
        db,
        "ingest",
        str(FEEDS / "the-thao.rss"),
        str(FEEDS / "malformed.rss"),
        "--category",
        "Thể thao",
    )
    assert "the-thao.rss: 3 new" in result.stdout
    assert "malformed.rss: 1 new" in result.stdout and "not well-formed" in result.stdout
    store = SQLiteStore(f"sqlite:///{db}")
    assert store.get_category("the-thao").name == "Thể thao"
    assert store.count_articles("the-thao") == 4
    again = quantam(db, "ingest", str(FEEDS / "the-thao.rss"), "--category", "the-thao")
    assert "0 new, 0 updated, 3 unchanged" in again.stdout


def test_ingest_reports_bad_inputs_and_exits_nonzero(tmp_path: Path) -> None:
    result = quantam(
        tmp_path / "q.db",
        "ingest",
        str(FEEDS / "page.html"),
        str(tmp_path / "missing.rss"),
        "--category",
        "x",
        check=False,
    )
    assert result.returncode == 1
    assert "HTML page" in result.stderr
    assert "cannot read the file" in result.stderr


def test_sources_add_list_remove(tmp_path: Path, feed_server: FeedServer) -> None:
    db = tmp_path / "q.db"
    ok = feed_server.route("/ok.rss", Reply(body=rss([story(1), story(2)], title="Báo Tốt")))
    bad = feed_server.route("/bad.rss", Reply(status=404))
    env = {"QUANTAM_ALLOW_PRIVATE_FETCH": "1"}
    out = quantam(db, "sources", "add", ok, "--category", "thoi-su", "--name", "Thời sự").stdout
    assert "added source 1" in out
    quantam(db, "sources", "add", bad, "--category", "the-thao", "--title", "Hỏng")
    dup = quantam(db, "sources", "add", ok, "--category", "thoi-su", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    polled = quantam(db, "poll", env=env).stdout
    assert "2 new" in polled and "404 Not Found" in polled
    listing = quantam(db, "sources", "list").stdout
    assert "[1] ok" in listing and "2 articles" in listing and "(HTTP 200)" in listing
    assert "[2] error" in listing and "error: the feed is not there (404 Not Found)" in listing
    assert "next in" in listing
    assert "no source is due" in quantam(db, "poll", env=env).stdout
    assert "2 new" not in quantam(db, "poll", "--force", env=env).stdout
    quantam(db, "sources", "remove", "2")
    assert "Hỏng" not in quantam(db, "sources", "list").stdout
    cats = quantam(db, "categories", "list").stdout
    assert "thoi-su" in cats and "Thời sự" in cats


def test_private_addresses_refused_without_the_setting(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    db = tmp_path / "q.db"
    quantam(
        db,
        "sources",
        "add",
        feed_server.route("/x.rss", Reply(body=rss([story(1)]))),
        "--category",
        "x",
    )
    polled = quantam(db, "poll", check=False)
    assert polled.returncode == 1 and "every source polled (1) failed" in polled.stderr
    listing = quantam(db, "sources", "list").stdout
    assert "non-public address 127.0.0.1" in listing
    assert "HTTP" not in listing.splitlines()[0]  # no status to show (it said "HTTP -")
    assert feed_server.requests_to("/x.rss") == []


def test_opml_import_export_round_trip(tmp_path: Path) -> None:
    db1, db2 = tmp_path / "a.db", tmp_path / "b.db"
    example = ROOT / "examples" / "vn-news.opml"
    out = quantam(db1, "sources", "import", str(example)).stdout
    assert "imported" in out
    exported = tmp_path / "out.opml"
    quantam(db1, "sources", "export", "-o", str(exported))
    quantam(db2, "sources", "import", str(exported))
    again = quantam(db2, "sources", "export").stdout
    assert again == exported.read_text()
    a, b = SQLiteStore(f"sqlite:///{db1}"), SQLiteStore(f"sqlite:///{db2}")
    assert [(s.url, s.category, s.name) for s in a.list_sources()] == [
        (s.url, s.category, s.name) for s in b.list_sources()
    ]
    assert a.list_categories() == b.list_categories()
    assert any(c.name == "Thể thao" and c.slug == "the-thao" for c in a.list_categories())
    assert "imported 0 sources" in quantam(db1, "sources", "import", str(example)).stdout


def test_category_names_make_correct_slugs(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    assert "thoi-su: Thời sự" in quantam(db, "categories", "add", "Thời sự").stdout
    nfd = unicodedata.normalize("NFD", "Đời sống")
    assert "doi-song: Đời sống" in quantam(db, "categories", "add", nfd).stdout


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    result = quantam(
        tmp_path / "q.db", "sources", "list", env={"QUANTAM_FETCH_MAX_BYTES": "lots"}, check=False
    )
    assert result.returncode != 0
    assert "QUANTAM_FETCH_MAX_BYTES must be a whole number, not 'lots'" in result.stderr
    result = quantam(
        tmp_path / "q.db", "sources", "list", env={"QUANTAM_STORE": "mysql://x"}, check=False
    )
    assert result.returncode == 2 and "unsupported store URL" in result.stderr


def test_killed_ingest_leaves_each_feed_all_or_nothing(tmp_path: Path) -> None:
    """SIGKILL the process mid-ingest: every feed's entries are all stored or none are."""
    feeds = []
    for f in range(30):
        items = [
            story(
                f * 1000 + n, link=f"https://bao.example.vn/feed{f}-{n}.html", guid=f"feed{f}-{n}"
            )
            for n in range(300)
        ]
        path = tmp_path / f"feed{f}.rss"
        path.write_bytes(rss(items))
        feeds.append(str(path))
    db = tmp_path / "q.db"
    env = {**os.environ, "QUANTAM_STORE": f"sqlite:///{db}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "ingest", *feeds, "--category", "x"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=0.1) as probe:
                    if probe.execute("SELECT COUNT(*) FROM articles").fetchone()[0] >= 600:
                        break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        urls = [r[0] for r in check.execute("SELECT json_extract(data, '$.url') FROM articles")]
    per_feed = {f: 0 for f in range(30)}
    for url in urls:
        per_feed[int(url.split("/feed")[1].split("-")[0])] += 1
    assert set(per_feed.values()) <= {0, 300}, per_feed
    assert 0 < len(urls) < 30 * 300, "the kill should land mid-run"


@pytest.mark.parametrize("command", [["serve", "--help"], ["poll", "--help"]])
def test_subcommand_help(tmp_path: Path, command: list[str]) -> None:
    assert "Usage" in quantam(tmp_path / "q.db", *command).stdout


def test_poll_records_a_bomb_on_the_source_and_exits_nonzero(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Issue 12: three gzip layers over 1 GiB of zeros (2 KB on the wire) made httpx raise
    MemoryError in a memory-limited poller, and `poll --force` left the source "new, never
    fetched": no error, no backoff, fetched again every round. Here the process may map 1 GiB."""

    url = feed_server.route(
        "/bomb.rss", Reply(body=bomb(3, 1024), headers={"Content-Encoding": "gzip, gzip, gzip"})
    )
    db = tmp_path / "q.db"
    env = {"QUANTAM_ALLOW_PRIVATE_FETCH": "1", "OPENBLAS_NUM_THREADS": "1"}
    quantam(db, "sources", "add", url, "--category", "the-thao", env=env)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "service", "poll", "--force"],
        capture_output=True,
        text=True,
        env={**os.environ, "QUANTAM_STORE": f"sqlite:///{db}", **env},
        timeout=60,
        preexec_fn=limit_memory,
    )
    assert "larger than the 10,485,760-byte limit" in result.stdout, result.stdout
    assert result.returncode == 1 and "every source polled (1) failed" in result.stderr
    store = SQLiteStore(f"sqlite:///{db}")
    source = store.list_sources()[0]
    assert source.last_fetch_at is not None and source.error_count == 1
    assert "larger than the 10,485,760-byte limit" in source.last_error
    assert source.next_due_at > source.last_fetch_at  # backing off, not due again at once
    store.close()


@pytest.mark.parametrize(
    "command",
    [["sources", "list"], ["sources", "export"], ["categories", "list"], ["related", "x"]],
)
def test_reading_commands_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    """Issue 12: `QUANTAM_STORE=sqlite:///nonexist/dir/x.db quantam sources list` made the
    directories and an empty database and said "no sources yet", exit 0."""
    db = tmp_path / "nonexist" / "dir" / "x.db"
    result = quantam(db, *command, check=False)
    assert result.returncode == 2, result.stdout
    assert f"no SQLite database at {db}" in result.stderr
    assert not (tmp_path / "nonexist").exists()


def test_writing_commands_create_the_store_and_say_where(tmp_path: Path) -> None:
    db = tmp_path / "new" / "q.db"
    result = quantam(db, "categories", "add", "Thể thao")
    assert f"created a new store: sqlite:///{db}" in result.stderr and db.exists()
    again = quantam(db, "categories", "add", "Thời sự")
    assert "created" not in again.stderr
    assert "the-thao" in quantam(db, "categories", "list").stdout


def test_ingest_takes_a_url_whatever_the_case_of_its_scheme(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Issue 12: `quantam ingest HTTP://...` was read as a file name."""
    url = feed_server.route("/x.rss", Reply(body=(FEEDS / "the-thao.rss").read_bytes()))
    upper = "HTTP://" + url.removeprefix("http://")
    env = {"QUANTAM_ALLOW_PRIVATE_FETCH": "1"}
    result = quantam(tmp_path / "q.db", "ingest", upper, "--category", "x", env=env)
    assert ": 3 new" in result.stdout
