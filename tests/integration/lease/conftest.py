"""Real etcd (one node, three nodes), a real redis-server, and a blackholing TCP relay.

Every server is started by a fixture on 127.0.0.1 with free ports and a data dir under
``tmp_path``, and killed in the fixture's ``finally`` — also when the test fails.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import need

ETCD = shutil.which("etcd")
REDIS = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EtcdNode:
    """One etcd member as a child process."""

    def __init__(
        self,
        name: str,
        data_dir: Path,
        cluster: str,
        client_port: int,
        peer_port: int,
        *,
        token: str,
        heartbeat_ms: int = 50,
        election_ms: int = 500,
    ) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{client_port}"
        self.log = data_dir.parent / f"{name}.log"
        self.args = [
            str(ETCD),
            "--name",
            name,
            "--data-dir",
            str(data_dir),
            "--listen-client-urls",
            self.url,
            "--advertise-client-urls",
            self.url,
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-cluster",
            cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            token,
            "--heartbeat-interval",
            str(heartbeat_ms),
            "--election-timeout",
            str(election_ms),
            "--log-level",
            "warn",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the cluster."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def status(self) -> dict[str, str]:
        reply = httpx.post(f"{self.url}/v3/maintenance/status", json={}, timeout=1.0)
        return dict(reply.json())

    def is_raft_leader(self) -> bool:
        status = self.status()
        return status["leader"] == status["header"]["member_id"]


def wait_healthy(nodes: list[EtcdNode], within: float = 20.0) -> bool:
    until = time.monotonic() + within
    pending = list(nodes)
    while pending and time.monotonic() < until:
        node = pending[0]
        if node.proc is not None and node.proc.poll() is not None:
            return False
        try:
            ok = httpx.get(f"{node.url}/health", timeout=1.0).json().get("health") == "true"
        except (httpx.HTTPError, ValueError):
            ok = False
        if ok:
            pending.pop(0)
        else:
            time.sleep(0.05)
    return not pending


@contextlib.contextmanager
def etcd_cluster(tmp_path: Path, size: int) -> Iterator[list[EtcdNode]]:
    need(ETCD is not None, "etcd is not installed (apt-get install etcd-server)")
    ports = [(free_port(), free_port()) for _ in range(size)]
    cluster = ",".join(f"n{i}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(ports))
    nodes = []
    for i, (client, peer) in enumerate(ports):
        data = tmp_path / f"etcd-n{i}" / "data"
        data.parent.mkdir(parents=True)
        token = f"seawall-{tmp_path.name}-{ports[0][1]}"
        nodes.append(EtcdNode(f"n{i}", data, cluster, client, peer, token=token))
    try:
        for node in nodes:
            node.start()
        logs = "; ".join(str(n.log) for n in nodes)
        need(wait_healthy(nodes), f"etcd did not become healthy on 127.0.0.1 (logs: {logs})")
        yield nodes
    finally:
        for node in nodes:
            node.kill()


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdNode]:
    """A one-node etcd on 127.0.0.1 (heartbeat 50 ms, so one-second leases are allowed)."""
    with etcd_cluster(tmp_path, 1) as nodes:
        yield nodes[0]


@pytest.fixture
def etcd3(tmp_path: Path) -> Iterator[list[EtcdNode]]:
    """A three-node etcd cluster on 127.0.0.1."""
    with etcd_cluster(tmp_path, 3) as nodes:
        yield nodes


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server on 127.0.0.1 with persistence off."""
    need(REDIS is not None, "redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    log = tmp_path / "redis.log"
    proc = subprocess.Popen(
        [
            str(REDIS),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--logfile",
            str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until = time.monotonic() + 10
        up = False
        while time.monotonic() < until and proc.poll() is None and not up:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                up = True
            if not up:
                time.sleep(0.02)
        need(up, f"redis-server did not start on 127.0.0.1:{port} (log: {log})")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _drop(pair: list[socket.socket]) -> None:
    # shutdown() first: close() alone does not wake a thread blocked in recv().
    for sock in pair:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


class BlackholeRelay:
    """A TCP relay to ``upstream`` that can be partitioned and healed.

    Partitioned, it keeps every connection open and forwards nothing, and accepts new
    connections without connecting them anywhere: the client sees its own timeouts, not a
    fast reset — a blackhole. Healing closes the connections that lived through the
    partition (their bytes are gone) and forwards new ones again.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").removeprefix("redis://").split(":")
        self.upstream = (host, int(port.split("/")[0]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._partitioned = False
        self._live: list[list[socket.socket]] = []  # [client, upstream?] per connection
        self._doomed: list[list[socket.socket]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def partition(self) -> None:
        with self._lock:
            self._partitioned = True
            self._doomed.extend(self._live)
            self._live = []

    def heal(self) -> None:
        with self._lock:
            self._partitioned = False
            doomed, self._doomed = self._doomed, []
        for pair in doomed:
            _drop(pair)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.heal()
        with self._lock:
            live, self._live = self._live, []
        for pair in live:
            _drop(pair)

    def _is_doomed(self, pair: list[socket.socket]) -> bool:
        with self._lock:
            return any(p is pair for p in self._doomed)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            pair = [client]
            with self._lock:
                partitioned = self._partitioned
                (self._doomed if partitioned else self._live).append(pair)
            if partitioned:
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair.append(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True).start()

    def _swallow(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass

    def _pump(self, pair: list[socket.socket], src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if self._is_doomed(pair):
                    continue  # blackholed: read and drop, never answer
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not self._is_doomed(pair):
                _drop(pair)


@pytest.fixture
def relays() -> Iterator[list[BlackholeRelay]]:
    """Relays made during the test (append to the list); all closed at the end."""
    made: list[BlackholeRelay] = []
    try:
        yield made
    finally:
        for relay in made:
            relay.close()
