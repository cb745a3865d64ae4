"""Private redis-server processes for tests that stop, kill or cluster Redis.

The shared Redis on 6379 must keep running for everyone, so fault, durability and cluster tests
start their own servers on loopback ports 7100-7199 (cluster bus: port + 10000), each in its own
directory, and end them by pid.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

PORTS = range(7100, 7200)
CREATE_OPTIONS = ("--cluster-replicas", "0", "--cluster-yes")


def require_redis_server() -> None:
    """Skip when the binaries are missing on a developer machine; in CI that is a failure."""
    missing = [b for b in ("redis-server", "redis-cli") if shutil.which(b) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(cluster: bool = False, taken: set[int] | None = None) -> int:
    """A port in 7100-7199 nobody listens on (and its bus port, for a cluster node)."""
    candidates = [p for p in PORTS if p not in (taken or set())]
    random.shuffle(candidates)
    for port in candidates:
        if _free(port) and (not cluster or _free(port + 10000)):
            return port
    raise RuntimeError("no free port in 7100-7199")


class RedisProcess:
    """One redis-server in `directory`; `start()` again after stop/kill reuses port and data."""

    def __init__(self, directory: Path, *args: str, cluster: bool = False):
        self.directory = directory
        self.args = list(args)
        self.cluster = cluster
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, taken: set[int] | None = None, timeout: float = 15.0) -> None:
        """Start and wait until it answers PING (after loading its append-only file)."""
        fixed = self.port is not None
        for _ in range(1 if fixed else 5):
            if not fixed:
                self.port = free_port(self.cluster, taken)
            if self._launch(timeout):
                return
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def _launch(self, timeout: float) -> bool:
        cmd = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--logfile", "redis.log",
            "--save", "",
            *self.args,
        ]  # fmt: skip
        if self.cluster:
            cmd += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.exceptions.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync; what is on disk is what survives."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class RedisClusterProcesses:
    """A three-primary Redis Cluster on loopback, made with `redis-cli --cluster create`."""

    def __init__(self, directory: Path, size: int = 3):
        self.nodes = [
            RedisProcess(
                directory / f"node{i}",
                *("--cluster-node-timeout", "2000", "--appendonly", "yes"),
                cluster=True,
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 30.0) -> None:
        taken: set[int] = set()
        for node in self.nodes:
            node.start(taken=taken)
            assert node.port is not None
            taken |= {node.port}
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, *CREATE_OPTIONS],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        self.wait_ok(timeout)

    def wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self._ready(n) for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def _ready(self, node: RedisProcess) -> bool:
        """Every node agrees: all slots served, every node known."""
        client = node.client()
        try:
            info = client.cluster("info")
        except redis.exceptions.RedisError:
            return False
        finally:
            client.close()
        return (
            info.get("cluster_state") == "ok"
            and int(info.get("cluster_slots_ok", 0)) == 16384
            and int(info.get("cluster_known_nodes", 0)) == len(self.nodes)
        )

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
