"""Where the tests are and what they use around them: paths, the Redis, the fuzz profile."""

from __future__ import annotations

import os
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
# Real feeds and corpora beside the repository (../shared/data), when they are there.
SHARED = ROOT.parent / "shared"
REDIS_URL = os.environ.get("QUANTAM_TEST_REDIS", "redis://127.0.0.1:6379/0")
# QUANTAM_FUZZ_PROFILE=deep runs the fuzz tests much longer than CI does.
FUZZ_PROFILE = os.environ.get("QUANTAM_FUZZ_PROFILE", "ci")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes()
