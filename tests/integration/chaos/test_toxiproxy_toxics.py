"""Toxiproxy's toxic tests that go through TCP (``toxics/*_test.go``), against ``seawall proxy``.

Toxiproxy's ``WithEstablishedProxy``: a listening socket of the test's own as the
upstream, a proxy to it created through the control API, one connection through it with
bytes checked both ways, and then the toxic under test, added and removed through the
API while both ends of the connection are watched with raw sockets.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.chaos.conftest import SeawallProxy, echo, free_port
from tests.integration.chaos.go_client import GoClient

Established = tuple[socket.socket, socket.socket, str]


@pytest.fixture
def client(seawall_proxy: SeawallProxy) -> Iterator[GoClient]:
    go = GoClient(seawall_proxy.url)
    try:
        yield go
    finally:
        go.clear()
        go.close()


def _write_and_receive(source: socket.socket, dest: socket.socket, data: bytes) -> None:
    source.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = dest.recv(len(data) - len(got))
        assert chunk, "closed before the bytes arrived"
        got += chunk
    assert got == data


@pytest.fixture
def established(client: GoClient) -> Iterator[Established]:
    """(client connection, upstream's connection, proxy name), bytes checked both ways."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        upstream = f"127.0.0.1:{listener.getsockname()[1]}"
        proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream)
        host, port = proxy["listen"].rsplit(":", 1)
        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
            server_conn = stack.enter_context(listener.accept()[0])
            server_conn.settimeout(5)
            _write_and_receive(conn, server_conn, b"foobar")
            _write_and_receive(server_conn, conn, b"foobar")
            yield conn, server_conn, "test"


# -- timeout_test.go -------------------------------------------------------------------


def test_timeout_toxic_does_not_cause_hang(client: GoClient, established: Established) -> None:
    conn, _, proxy = established
    client.add_toxic(proxy, "might_block", "latency", "upstream", 1, {"latency": 10})
    client.add_toxic(proxy, "timeout", "timeout", "upstream", 1, {"timeout": 0})
    for _ in range(5):
        conn.sendall(b"hello")
        time.sleep(0.05)  # the latency toxic gets data to hold
    start = time.perf_counter()
    client.remove_toxic(proxy, "might_block")
    assert time.perf_counter() - start < 1.0


def test_timeout_toxic_closes_connection_on_remove(
    client: GoClient, established: Established
) -> None:
    conn, server_conn, proxy = established
    client.add_toxic(proxy, "to_delete", "timeout", "upstream", 1, {"timeout": 0})
    client.remove_toxic(proxy, "to_delete")
    conn.settimeout(1)
    server_conn.settimeout(1)
    assert conn.recv(1) == b""  # EOF within 1 s, on both sides
    assert server_conn.recv(1) == b""


def test_timeout_toxic_passes_on_the_peer_close(client: GoClient, established: Established) -> None:
    conn, server_conn, proxy = established
    client.add_toxic(proxy, "hole", "timeout", "upstream", 1, {"timeout": 0})
    conn.sendall(b"dropped")
    conn.shutdown(socket.SHUT_WR)
    server_conn.settimeout(1)
    conn.settimeout(1)
    assert server_conn.recv(100) == b""  # closed, and the dropped bytes never arrive
    assert conn.recv(1) == b""


# -- reset_peer_test.go ----------------------------------------------------------------

_MESSAGE = b"reset toxic payload\n"


def _reset_through(client: GoClient, stream: str, timeout: int) -> float:
    """Seconds from sending a line until the connection is reset (resetTCPHelper)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        upstream = f"127.0.0.1:{listener.getsockname()[1]}"
        proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream)
        client.add_toxic("test", "resettcp", "reset_peer", stream, 1, {"timeout": timeout})

        def answer() -> None:
            with contextlib.suppress(OSError), listener.accept()[0] as server_conn:
                server_conn.settimeout(5)
                if server_conn.recv(100):
                    server_conn.sendall(_MESSAGE)
                    server_conn.recv(100)  # until the reset reaches this side too

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        host, port = proxy["listen"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            start = time.perf_counter()
            conn.sendall(_MESSAGE)
            with pytest.raises(ConnectionResetError):
                conn.recv(1000)
            elapsed = time.perf_counter() - start
            assert conn.recv(1000) == b""  # then EOF, as Go reads after the reset
        thread.join(5)
    return elapsed


def test_reset_toxic_no_timeout(client: GoClient) -> None:
    _reset_through(client, "upstream", 0)


def test_reset_toxic_with_timeout(client: GoClient) -> None:
    assert 0.1 <= _reset_through(client, "upstream", 100) < 0.6


def test_reset_toxic_with_timeout_downstream(client: GoClient) -> None:
    assert 0.1 <= _reset_through(client, "downstream", 100) < 0.6


# -- toxic_test.go ---------------------------------------------------------------------


def _echo(conn: socket.socket, server_conn: socket.socket) -> None:
    """AssertEchoResponse: a line from client to server and back, intact."""
    _write_and_receive(conn, server_conn, b"hello world\n")
    _write_and_receive(server_conn, conn, b"hello world\n")


def test_persistent_connections(client: GoClient, established: Established) -> None:
    conn, server_conn, proxy = established
    client.add_toxic(proxy, "noop_up", "noop", "upstream", 1, None)
    client.add_toxic(proxy, "noop_down", "noop", "downstream", 1, None)
    _echo(conn, server_conn)
    client.reset_state()
    _echo(conn, server_conn)
    client.reset_state()
    _echo(conn, server_conn)


def test_toxic_add_remove(
    client: GoClient, established: Established, seawall_proxy: SeawallProxy
) -> None:
    conn, server_conn, proxy = established
    running = threading.Event()
    running.set()

    def flip() -> None:
        flipper = GoClient(seawall_proxy.url)
        enabled = False
        with contextlib.closing(flipper):
            while running.is_set():
                with contextlib.suppress(Exception):  # removing what is not there: 404
                    if enabled:
                        flipper.add_toxic(proxy, "noop_up", "noop", "upstream", 1, None)
                        flipper.remove_toxic(proxy, "noop_down")
                    else:
                        flipper.remove_toxic(proxy, "noop_up")
                        flipper.add_toxic(proxy, "noop_down", "noop", "downstream", 1, None)
                enabled = not enabled

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            _echo(conn, server_conn)
    finally:
        running.clear()
        thread.join(5)


# -- limit_data_test.go ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "limit", "expected", "closed"),
    [
        ([50], 100, 50, False),  # TestLimitDataToxicChunkSmallerThanLimit
        ([150], 100, 100, True),  # TestLimitDataToxicChunkBiggerThanLimit
        ([25, 25, 25], 100, 75, False),  # TestLimitDataToxicMultipleChunks...
        ([90, 20], 100, 100, True),  # TestLimitDataToxicSecondChunkWouldOverflowLimit
        ([100], 0, 0, True),  # TestLimitDataToxicLimitIsSetToZero
    ],
)
def test_limit_data_toxic(
    client: GoClient,
    established: Established,
    chunks: list[int],
    limit: int,
    expected: int,
    closed: bool,
) -> None:
    conn, server_conn, proxy = established
    client.add_toxic(proxy, "limit", "limit_data", "downstream", 1, {"bytes": limit})
    data = bytes(range(256)) * 2
    sent = 0
    for size in chunks:
        with contextlib.suppress(OSError):  # the proxy may have closed already
            server_conn.sendall(data[sent : sent + size])
        sent += size
        time.sleep(0.02)  # separate chunks, as the Go test feeds them one by one
    got = b""
    conn.settimeout(0.3)
    with contextlib.suppress(TimeoutError):
        while len(got) <= expected and (chunk := conn.recv(1000)):
            got += chunk
    assert got == data[:expected]
    if closed:
        assert conn.recv(1) == b""
    else:
        with pytest.raises(TimeoutError):
            conn.recv(1)  # still open


# -- latency_test.go -------------------------------------------------------------------


@pytest.fixture
def echo_proxy(client: GoClient, upstream: Any) -> Iterator[tuple[socket.socket, str]]:
    """WithEchoProxy: a connection through a proxy to an echo server."""
    proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream(echo).address)
    host, port = proxy["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        yield conn, "test"


def _round_trip(conn: socket.socket, message: bytes) -> float:
    start = time.perf_counter()
    conn.sendall(message)
    got = b""
    while len(got) < len(message):
        chunk = conn.recv(1 << 16)
        assert chunk, "closed mid round trip"
        got += chunk
    assert got == message
    return time.perf_counter() - start


@pytest.mark.parametrize(
    ("up", "down"),
    [
        (100, None),  # TestUpstreamLatency
        (None, 100),  # TestDownstreamLatency
        (100, 100),  # TestFullstreamLatencyEven
        (300, 100),  # TestFullstreamLatencyBiasUp (1000 ms there)
        (100, 300),  # TestFullstreamLatencyBiasDown (1000 ms there)
        (0, 0),  # TestZeroLatency
    ],
)
def test_latency(
    client: GoClient, echo_proxy: tuple[socket.socket, str], up: int | None, down: int | None
) -> None:
    conn, proxy = echo_proxy
    if up is not None:
        client.add_toxic(proxy, "latency_up", "latency", "upstream", 1, {"latency": up})
    if down is not None:
        client.add_toxic(proxy, "latency_down", "latency", "downstream", 1, {"latency": down})
    message = b"hello world " + b"a" * 32 * 1024 + b"\n"
    expected = ((up or 0) + (down or 0)) / 1000
    for _ in range(2):  # the same latency in both rounds
        elapsed = _round_trip(conn, message)
        assert expected <= elapsed < expected + 0.15


def test_two_latency_toxics(client: GoClient, echo_proxy: tuple[socket.socket, str]) -> None:
    conn, proxy = echo_proxy
    for i in range(2):  # 500 ms each there
        client.add_toxic(proxy, f"latency_{i}", "latency", "upstream", 1, {"latency": 150})
    elapsed = _round_trip(conn, b"hello world " + b"a" * 32 * 1024 + b"\n")
    assert 0.3 <= elapsed < 0.45


def test_latency_toxic_close_race(client: GoClient, upstream: Any) -> None:
    proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream(echo).address)
    host, port = proxy["listen"].rsplit(":", 1)
    for _ in range(100):  # 1000 there; each adds, connects, writes, closes, removes
        client.add_toxic("test", "", "latency", "upstream", 1, {"latency": 10})
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"hello")
        client.remove_toxic("test", "latency_upstream")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        assert _round_trip(conn, b"still serving") < 1.0


def test_latency_toxic_bandwidth(client: GoClient, upstream: Any) -> None:
    payload = b"hello world " * 1000

    def flood(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn.sendall(payload)

    proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream(flood).address)
    host, port = proxy["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        client.add_toxic("test", "", "latency", "", 1, {"latency": 100})
        time.sleep(0.15)  # the toxic now holds 100 ms of the stream
        start = time.perf_counter()
        count = 0
        while count < 100 * len(payload):
            chunk = conn.recv(1 << 20)
            assert chunk
            count += len(chunk)
        elapsed = time.perf_counter() - start
    # Latency shifts the stream in time and does not slow it: Toxiproxy asks 100 MB/s of
    # a dedicated machine; on two shared cores, through Python's toxic path, 20 MB/s.
    assert count / elapsed > 20e6, f"{count / elapsed / 1e6:.1f} MB/s"


# -- bandwidth_test.go -----------------------------------------------------------------


def test_bandwidth_toxic(client: GoClient) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        upstream = f"127.0.0.1:{listener.getsockname()[1]}"
        proxy = client.create_proxy("test", f"127.0.0.1:{free_port()}", upstream)
        client.add_toxic("test", "", "bandwidth", "upstream", 1, {"rate": 1000})  # 1 MB/s
        payload = b"hello world " * 20000  # 240 KB (480 KB there)
        host, port = proxy["listen"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            server_conn = listener.accept()[0]
            # The client writes everything and closes at once; the proxy still delivers
            # every byte, at the rate.
            conn.sendall(payload)
        with server_conn:
            server_conn.settimeout(5)
            start = time.perf_counter()
            got = b""
            while chunk := server_conn.recv(1 << 16):
                got += chunk
            elapsed = time.perf_counter() - start
    assert got == payload
    assert 0.24 - 0.1 <= elapsed < 0.24 + 0.15
