"""Shared fixtures: real stores (a SQLite file, a real Redis), a real loopback feed server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from store.base import Store
from store.sqlite import SQLiteStore
from tests.feedserver import FeedServer, RawServer
from tests.redisproc import RedisClusterProcesses, require_redis_server

FIXTURES = Path(__file__).parent / "fixtures"

# QUANTAM_FUZZ_PROFILE=deep runs the fuzz tests much longer than CI does.
settings.register_profile(
    "ci", max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck)
)
FUZZ_PROFILE = os.environ.get("QUANTAM_FUZZ_PROFILE", "ci")
settings.load_profile(FUZZ_PROFILE)
REDIS_URL = os.environ.get("QUANTAM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _redis_store(url: str = REDIS_URL) -> Store:
    from store.redis import RedisStore

    return RedisStore(f"{url}?prefix=qtest-{uuid.uuid4().hex[:12]}")


def _backends() -> list[Any]:
    backends: list[Any] = ["sqlite"]
    try:
        import store.redis  # noqa: F401
    except ImportError:
        return backends
    return [*backends, "redis", pytest.param("redis-cluster", marks=pytest.mark.cluster)]


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """A real three-node Redis Cluster on loopback ports, started once for the whole run."""
    require_redis_server()
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=_backends())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend in turn: the contract suite runs over each of them."""
    if request.param == "sqlite":
        s: Store = SQLiteStore(f"sqlite:///{tmp_path / 'quantam.db'}")
    elif request.param == "redis-cluster":
        s = _redis_store(request.getfixturevalue("redis_cluster").url)
    else:
        s = _redis_store()
    yield s
    if request.param != "sqlite":
        s.destroy()  # type: ignore[attr-defined]
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(f"sqlite:///{tmp_path / 'quantam.db'}")
    yield s
    s.close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    yield server
    server.stop()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "feeds" / name).read_bytes()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    server.start()
    yield server
    server.stop()
