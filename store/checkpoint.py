"""WAL checkpoints for the SQLite store, off the writers' path.

By default SQLite runs a checkpoint inside whichever commit takes the write-ahead log past 1,000
pages: that commit copies the log into the database file and waits for its fsync, 15-50 ms on
this machine, about once every 30 related-list updates. Here a thread with its own connection
checkpoints shortly after writes instead, so a commit only appends to the log. Writers keep a
far higher automatic threshold as a backstop, in case this thread cannot keep up.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

# Pages (4 KiB) the log may hold before a writer checkpoints by itself after all.
BACKSTOP_PAGES = 10_000


class Checkpointer:
    """Checkpoints one database file `delay` seconds after a write; gone when idle.

    The thread ends after `idle` seconds without writes (a process opening many stores keeps no
    idle threads and connections) and the next write starts another. After a fork the child
    starts its own: threads do not survive a fork.
    """

    def __init__(self, path: str, timeout: float, delay: float = 0.2, idle: float = 10.0):
        self.path = path
        self._timeout = timeout
        self._delay = delay
        self._idle = idle
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._pid = -1
        self._running = False
        self._stopping = False

    def wrote(self) -> None:
        """Note a commit; the log is checkpointed shortly after."""
        with self._guard:
            if not self._running or self._pid != os.getpid():
                self._wake = threading.Event()
                self._pid = os.getpid()
                self._running = True
                threading.Thread(
                    target=self._run, args=(self._wake,), name="sqlite-checkpoint", daemon=True
                ).start()
            self._wake.set()

    def stop(self) -> None:
        """End the thread after one last checkpoint (the store is closing; a later write
        starts another)."""
        with self._guard:
            if self._running:
                self._stopping = True
                self._wake.set()

    def _run(self, wake: threading.Event) -> None:
        db = None
        try:
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            while True:
                wake.wait(self._idle)
                with self._guard:
                    if not wake.is_set():
                        return  # idle: the next write starts another thread
                    stopping = self._stopping
                if not stopping:
                    time.sleep(self._delay)  # let a burst of commits gather
                wake.clear()
                self.checkpoint(db)
                if stopping:
                    return
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints of %s stopped: %s", self.path, exc)
        finally:
            with self._guard:
                if self._wake is wake:
                    self._running = False
                    self._stopping = False
            if db is not None:
                db.close()

    def checkpoint(self, db: sqlite3.Connection) -> None:
        """Copy what the log holds into the database without blocking readers or writers
        (PASSIVE): what a reader still needs is copied at a later checkpoint."""
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError as exc:
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
