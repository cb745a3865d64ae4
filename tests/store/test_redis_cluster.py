"""The Redis store on a real three-node Redis Cluster (started once per run by conftest).

The contract suite itself runs on the cluster through the `store` fixture's "redis-cluster"
parameter; these tests add what only a cluster can show: one store stays in one slot, several
stores spread over the nodes, any node's address works, and a primary going down and coming
back is reported and then recovered from.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster
from redis.crc import key_slot

from store.errors import StoreUnavailable
from store.models import IngestBatch
from store.redis import RedisStore
from tests.support.articles import fill_every_kind, make_article
from tests.support.redisproc import RedisClusterProcesses

pytestmark = pytest.mark.cluster


@pytest.fixture
def admin(redis_cluster: RedisClusterProcesses) -> Iterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=redis_cluster.nodes[0].port)
    yield client
    client.close()


def _store(cluster: RedisClusterProcesses, prefix: str, node: int = 0) -> RedisStore:
    return RedisStore(f"redis+cluster://127.0.0.1:{cluster.nodes[node].port}?prefix={prefix}")


def test_a_store_lives_in_one_slot(redis_cluster: RedisClusterProcesses, admin: RedisCluster):
    store = _store(redis_cluster, f"qtest-{uuid.uuid4().hex[:12]}")
    try:
        fill_every_kind(store)
        slot = key_slot(store._k.art.encode())
        owner = admin.get_node_from_key(store._k.art)
        in_slot = admin.cluster_countkeysinslot(slot)
        assert in_slot == len(store._k.all) + 1  # and the one hour of popularity counted
        assert {admin.keyslot(k) for k in store._k.all} == {slot}
        assert owner.port in {n.port for n in redis_cluster.nodes}
    finally:
        store.destroy()
        store.close()
    assert admin.cluster_countkeysinslot(slot) == 0


def test_stores_of_several_sites_spread_over_the_nodes(
    redis_cluster: RedisClusterProcesses, admin: RedisCluster
) -> None:
    stores = [_store(redis_cluster, f"qtest-site-{i}-{uuid.uuid4().hex[:6]}") for i in range(12)]
    try:
        for i, store in enumerate(stores):
            store.commit(IngestBatch(articles=[make_article(i)]))
        owners = {admin.get_node_from_key(s._k.art).port for s in stores}
        assert len(owners) >= 2
        assert [s.count_articles() for s in stores] == [1] * 12
    finally:
        for store in stores:
            store.destroy()
            store.close()


def test_any_node_address_reaches_the_store(redis_cluster: RedisClusterProcesses) -> None:
    prefix = f"qtest-{uuid.uuid4().hex[:12]}"
    stores = [_store(redis_cluster, prefix, node) for node in range(3)]
    try:
        stores[0].commit(IngestBatch(articles=[make_article(1)]))
        stores[1].commit(IngestBatch(articles=[make_article(2)]))
        for store in stores:
            assert [a.id for a in store.latest_articles()] == ["a0002", "a0001"]
            assert store.last_seq() == 2
    finally:
        stores[0].destroy()
        for store in stores:
            store.close()


def test_a_primary_going_down_is_reported_and_recovered_from(
    redis_cluster: RedisClusterProcesses, admin: RedisCluster
) -> None:
    store = _store(redis_cluster, f"qtest-{uuid.uuid4().hex[:12]}")
    try:
        store.commit(IngestBatch(articles=[make_article(1)]))
        owner_port = admin.get_node_from_key(store._k.art).port
        node = next(n for n in redis_cluster.nodes if n.port == owner_port)
        node.stop()
        for call in (store.ping, lambda: store.get_article("a0001"), store.last_seq):
            with pytest.raises(StoreUnavailable, match="unavailable"):
                call()
        with pytest.raises(StoreUnavailable):
            store.commit(IngestBatch(articles=[make_article(2)]))
        node.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                store.ping()
                store.commit(IngestBatch(articles=[make_article(2)]))
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert [a.id for a in store.latest_articles()] == ["a0002", "a0001"]
    finally:
        redis_cluster.wait_ok()
        store.destroy()
        store.close()
