"""The SQLite store's WAL checkpoints run beside the writers, not inside their commits."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from store.checkpoint import BACKSTOP_PAGES, Checkpointer
from store.models import IngestBatch
from store.sqlite import SQLiteStore
from tests.support.articles import make_article


def _main_file_has(copy_of: Path, into: Path, article_id: str) -> bool:
    """Whether the database file alone (its log left behind) holds this article."""
    shutil.copy(copy_of, into)
    db = sqlite3.connect(into)
    try:
        found = db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone()
        return found is not None
    except sqlite3.OperationalError:  # not even the schema has reached the file yet
        return False
    finally:
        db.close()


def _wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_write_reaches_the_database_file_shortly_after_its_commit(tmp_path: Path) -> None:
    path = tmp_path / "quantam.db"
    store = SQLiteStore(f"sqlite:///{path}")
    writer = store._db
    # The writer itself would checkpoint only after thousands of pages: a small commit stays in
    # the log unless the checkpoint thread copies it.
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
    store.commit(IngestBatch(articles=[make_article(1)]))
    assert store.get_article("a0001") is not None
    assert _wait_for(lambda: _main_file_has(path, tmp_path / "copy.db", "a0001"))
    store.close()


def test_the_checkpoint_thread_leaves_when_idle_and_returns_on_the_next_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "quantam.db"
    store = SQLiteStore(f"sqlite:///{path}")
    store._checkpointer = Checkpointer(str(path), timeout=5.0, delay=0.0, idle=0.2)

    def running() -> bool:
        return any(t.name == "sqlite-checkpoint" and t.is_alive() for t in threading.enumerate())

    store.commit(IngestBatch(articles=[make_article(1)]))
    assert _wait_for(lambda: _main_file_has(path, tmp_path / "one.db", "a0001"))
    time.sleep(0.1)
    ours = store._checkpointer
    assert _wait_for(lambda: not ours._running)
    store.commit(IngestBatch(articles=[make_article(2)]))
    assert running()
    assert _wait_for(lambda: _main_file_has(path, tmp_path / "two.db", "a0002"))
    store.close()
    assert _wait_for(lambda: not ours._running)


def test_a_memory_database_has_no_checkpoint_thread() -> None:
    store = SQLiteStore("sqlite:///:memory:")
    store.commit(IngestBatch(articles=[make_article(1)]))
    assert store._checkpointer is None
    assert store.get_article("a0001") is not None


def test_close_ends_the_checkpoint_thread_and_closes_the_database(tmp_path: Path) -> None:
    """Issue 12: close() signalled the checkpoint thread and returned while it still held its
    connection; benchmarks/serve.py then deleted the -wal and -shm files, and the next open
    failed ("disk I/O error"). Now the thread is gone on return, and with it the last
    connection: SQLite has folded the log into the file and removed it."""
    path = tmp_path / "quantam.db"
    for round_ in range(5):
        store = SQLiteStore(f"sqlite:///{path}")
        store.commit(IngestBatch(articles=[make_article(round_ + 1)]))
        checkpointer = store._checkpointer
        assert checkpointer is not None and checkpointer._running
        store.close()
        assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
        assert not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()
    reopened = SQLiteStore(f"sqlite:///{path}")
    assert reopened.count_articles() == 5
    reopened.close()
