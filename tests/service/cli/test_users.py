"""`quantam users` as a real process against a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.http.console.passwords import verify_password
from store.sqlite import SQLiteStore


def run(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUANTAM_STORE": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "service", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_add_list_change_and_remove(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    SQLiteStore(f"sqlite:///{db}").close()
    assert "no users yet" in run(db, "list").stdout
    added = run(db, "add", "bien-tap", "--password-stdin", stdin="mật khẩu dài lắm\n")
    assert added.returncode == 0 and "added user bien-tap" in added.stdout
    # The password is never echoed, nor stored as given.
    assert "mật khẩu" not in added.stdout + added.stderr
    with SQLiteStore(f"sqlite:///{db}") as store:
        user = store.get_user("bien-tap")
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "mật khẩu dài lắm")
        assert not verify_password(user.password_hash, "mật khẩu dài lắ")
    assert "bien-tap  created" in run(db, "list").stdout
    changed = run(db, "add", "bien-tap", "--password-stdin", stdin="another long one\n")
    assert "changed the password of user bien-tap" in changed.stdout
    assert run(db, "remove", "bien-tap").returncode == 0
    gone = run(db, "remove", "bien-tap")
    assert gone.returncode == 1 and "no user 'bien-tap'" in gone.stderr
    with SQLiteStore(f"sqlite:///{db}") as store:
        assert [e.action for e in store.audit_log()] == [
            "removed user",
            "changed the password of user",
            "added user",
        ]


def test_bad_names_short_passwords_and_no_stdin_flag_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    short = run(db, "add", "an", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    spaced = run(db, "add", "a b", "--password-stdin", stdin="long enough pass\n")
    assert spaced.returncode == 2 and "no spaces" in spaced.stderr
    missing = run(db, "add", "an", stdin="long enough pass\n")
    assert missing.returncode == 2 and "--password-stdin" in missing.stderr
