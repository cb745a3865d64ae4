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
        self._thread: threading.Thread | None = None
        # Set by stop(): cuts the pause short, so closing a store does not wait for it.
        self._halt = threading.Event()

    def wrote(self) -> None:
        """Note a commit; the log is checkpointed shortly after."""
        with self._guard:
            if not self._running or self._pid != os.getpid():
                self._wake = threading.Event()
                self._halt = threading.Event()
                self._pid = os.getpid()
                self._running = True
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._wake, self._halt),
                    name="sqlite-checkpoint",
                    daemon=True,
                )
                self._thread.start()
            self._wake.set()

    def stop(self) -> None:
        """End the thread after one last checkpoint and wait for it to close its connection
        (the store is closing; a later write starts another). Returning earlier left the
        database open behind the caller's back: a caller that then moved or cleaned up the
        files (benchmarks/serve.py deleted the -wal and -shm) broke it."""
        with self._guard:
            thread = self._thread if self._running and self._pid == os.getpid() else None
            if thread is not None:
                self._stopping = True
                self._halt.set()
                self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, wake: threading.Event, halt: threading.Event) -> None:
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
                    halt.wait(self._delay)  # let a burst of commits gather
                wake.clear()
                self.checkpoint(db)
                with self._guard:
                    # Read again: a stop during the pause above was cleared with the wake-up.
                    if self._stopping:
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
