"""Real upstream servers on 127.0.0.1 for the proxy tests, a real ``seawall proxy``
process shared by the session, and socket helpers.

Upstreams are plain blocking-socket servers in threads (as urllib3's dummyserver is), so
what they see is exactly what a real peer of the proxy would.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Handler = Callable[[socket.socket], None]


class Upstream:
    """A TCP server on 127.0.0.1 running ``handler(conn)`` per connection, in threads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        # Resets and timeouts are what these tests provoke.
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            self.handler(conn)

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(5)
        self.sock.close()
        for thread in self._threads:
            thread.join(5)


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def blob(size: int) -> Handler:
    """Send ``size`` bytes (a repeating pattern) at once, then close."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(pattern(size))

    return handler


def sink(conn: socket.socket) -> None:
    """Read to EOF, then answer with how many bytes arrived."""
    total = 0
    while data := conn.recv(1 << 20):
        total += len(data)
    conn.sendall(str(total).encode())


def pattern(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.fixture
def upstream() -> Iterator[Callable[[Handler], Upstream]]:
    """``upstream(handler)`` starts a server; all are stopped after the test."""
    started: list[Upstream] = []

    def start(handler: Handler) -> Upstream:
        server = Upstream(handler)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def connect(address: str, timeout: float = 5.0) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(1 << 20):
        chunks.append(data)
    return b"".join(chunks)


def round_trips(sock: socket.socket, n: int, payload: bytes = b"ping") -> list[float]:
    """Seconds for each of ``n`` request/response round trips on an echo connection."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            data = sock.recv(65536)
            assert data, "connection closed mid round trip"
            got += data
        times.append(time.perf_counter() - start)
    return times


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def free_port() -> int:
    """A loopback port that was free a moment ago (for tests that need a fixed listen)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port: int = sock.getsockname()[1]
        return port


class SeawallProxy:
    """A real ``seawall proxy`` process, its control API's URL, and its log (stderr)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seawall.cli", "proxy", "--port", "0", "--seed", "1"],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"control API on (\S+)", line)
        if found is None:
            self.stop()
            pytest.fail(f"seawall proxy did not start: {line!r} {log.read_text()!r}")
        self.url = found.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()


@pytest.fixture(scope="session")
def seawall_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeawallProxy]:
    """One ``seawall proxy`` process (control API on a free port) for the whole session."""
    server = SeawallProxy(tmp_path_factory.mktemp("seawall-proxy") / "stderr.log")
    try:
        yield server
    finally:
        server.stop()
