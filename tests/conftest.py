"""Fixtures for every test folder: real stores (a SQLite file, a real Redis, a three-node Redis
Cluster), a real loopback feed server. Helpers the tests import live in tests/support/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from store.base import Store
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.support.env import FUZZ_PROFILE, REDIS_URL
from tests.support.feedserver import FeedServer, RawServer
from tests.support.redisproc import RedisClusterProcesses, require_redis_server

settings.register_profile(
    "ci", max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(FUZZ_PROFILE)


def _redis_store(url: str = REDIS_URL) -> Store:
    return RedisStore(f"{url}?prefix=qtest-{uuid.uuid4().hex[:12]}")


def _backends() -> list[Any]:
    return ["sqlite", "redis", pytest.param("redis-cluster", marks=pytest.mark.cluster)]


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


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    server.start()
    yield server
    server.stop()
