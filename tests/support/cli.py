"""Running the `quantam` command line as a real process against a SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def quantam(
    db: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "QUANTAM_STORE": f"sqlite:///{db}",
        "QUANTAM_POLL_HOST_DELAY": "0",
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"quantam {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
