"""The proxy itself: bytes arrive intact, closes pass through, down means refused."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from seawall.chaos import FaultProxy, Toxic
from tests.integration.chaos.conftest import (
    blob,
    connect,
    echo,
    pattern,
    recv_all,
    round_trips,
    sink,
)

Start = Callable[..., Any]


def _echo_through(address: str, payload: bytes) -> bytes:
    """Send ``payload`` on one thread while reading the echo on this one."""
    with connect(address, timeout=10) as sock:
        sender = threading.Thread(target=lambda: (sock.sendall(payload), sock.shutdown(1)))
        sender.start()
        got = recv_all(sock)
        sender.join()
    return got


def test_fast_path_carries_bulk_data_intact(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    payload = os.urandom(8 << 20)
    got = _echo_through(proxy.listen, payload)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


def test_toxic_path_carries_bulk_data_intact(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address, rng=random.Random(1))
    proxy.add_toxic("latency", latency=1, jitter=1)
    proxy.add_toxic("slicer", stream="upstream", average_size=40_000, size_variation=30_000)
    payload = os.urandom(4 << 20)
    got = _echo_through(proxy.listen, payload)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


def test_half_close_passes_through(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(sink).address)
    with connect(proxy.listen) as sock:
        sock.sendall(pattern(123_456))
        sock.shutdown(socket.SHUT_WR)  # the sink answers only after our EOF
        assert recv_all(sock) == b"123456"


def test_half_close_passes_through_a_toxic_pipeline(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(sink).address)
    proxy.add_toxic("latency", stream="upstream", latency=20)
    with connect(proxy.listen) as sock:
        sock.sendall(pattern(50_000))
        sock.shutdown(socket.SHUT_WR)
        assert recv_all(sock) == b"50000"


def test_disabled_proxy_refuses_and_drops_connections(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    with connect(proxy.listen) as open_sock:
        round_trips(open_sock, 1)
        with proxy.down():
            assert not proxy.enabled
            assert open_sock.recv(10) == b""  # existing connection dropped
            with pytest.raises(ConnectionRefusedError):
                connect(proxy.listen)
    assert proxy.enabled
    with connect(proxy.listen) as sock:  # same address again
        round_trips(sock, 2)


def test_unreachable_upstream_closes_the_client(fault_proxy: Start) -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    proxy = fault_proxy(f"127.0.0.1:{port}")  # nothing listens there any more
    with connect(proxy.listen) as sock:
        assert recv_all(sock) == b""


def test_many_concurrent_connections(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    socks = [connect(proxy.listen) for _ in range(50)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(f"{i:04d}".encode())
        for i, sock in enumerate(socks):
            assert sock.recv(4) == f"{i:04d}".encode()
        assert proxy.connections == 50
    finally:
        for sock in socks:
            sock.close()


def test_upstream_close_reaches_the_client(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(blob(70_000)).address)
    with connect(proxy.listen) as sock:
        assert recv_all(sock) == pattern(70_000)


def test_fault_proxy_as_async_context_manager(upstream: Start) -> None:
    server = upstream(echo)

    async def scenario() -> list[float]:
        async with FaultProxy(
            server.address, toxics=[Toxic("latency", attributes={"latency": 50})]
        ) as proxy:
            reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
            times = []
            for _ in range(3):
                start = asyncio.get_running_loop().time()
                writer.write(b"ping")
                assert await reader.readexactly(4) == b"ping"
                times.append(asyncio.get_running_loop().time() - start)
            proxy.remove_toxic("latency_downstream")
            start = asyncio.get_running_loop().time()
            writer.write(b"pong")
            assert await reader.readexactly(4) == b"pong"
            times.append(asyncio.get_running_loop().time() - start)
            writer.close()
            await writer.wait_closed()
        return times

    times = asyncio.run(scenario())
    assert all(t >= 0.049 for t in times[:3])
    assert times[3] < 0.03


def test_fault_proxy_reports_itself(upstream: Start, fault_proxy: Start) -> None:
    server = upstream(echo)
    proxy = fault_proxy(server.address, name="db")
    assert proxy.name == "db"
    assert proxy.upstream == server.address
    assert proxy.port > 0
    assert proxy.listen == f"127.0.0.1:{proxy.port}"
    toxic = proxy.add_toxic("bandwidth", rate=10)
    assert toxic.name == "bandwidth_downstream"
    assert toxic["rate"] == 10
    assert proxy.to_json() == {
        "name": "db",
        "listen": proxy.listen,
        "upstream": server.address,
        "enabled": True,
        "toxics": [toxic.to_json()],
    }
    with pytest.raises(Exception, match="already exists"):
        proxy.add_toxic("bandwidth", rate=5)
    proxy.clear_toxics()
    assert proxy.toxics == []


def test_closed_fault_proxy_frees_its_port(upstream: Start) -> None:
    server = upstream(echo)
    with FaultProxy(server.address) as proxy:
        port = proxy.port
    with pytest.raises(ConnectionRefusedError):
        connect(f"127.0.0.1:{port}")
    with pytest.raises(RuntimeError, match="not running"):
        proxy.add_toxic("latency", latency=1)


def test_portable_copy_path_without_splice(
    upstream: Start, fault_proxy: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off Linux (or without os.splice) links copy with recv/send; same behaviour.
    monkeypatch.setattr("seawall.chaos._link._SPLICE", False)
    proxy = fault_proxy(upstream(echo).address)
    payload = os.urandom(4 << 20)
    got = _echo_through(proxy.listen, payload)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    with proxy.toxic("latency", latency=30), connect(proxy.listen) as sock:
        assert min(round_trips(sock, 2)) >= 0.029
    sink_proxy = fault_proxy(upstream(sink).address)
    with connect(sink_proxy.listen) as sock:
        sock.sendall(pattern(100_000))
        sock.shutdown(socket.SHUT_WR)
        assert recv_all(sock) == b"100000"


def test_switching_paths_mid_stream_keeps_byte_order(upstream: Start, fault_proxy: Start) -> None:
    # Bytes queued on the zero-copy path and on the toxic path share one ordered queue.
    proxy = fault_proxy(upstream(echo).address, rng=random.Random(2))
    payload = os.urandom(6 << 20)
    result: list[bytes] = []
    with connect(proxy.listen, timeout=20) as sock:
        reader = threading.Thread(target=lambda: result.append(recv_all(sock)))
        reader.start()
        view = memoryview(payload)
        for i, start in enumerate(range(0, len(payload), 512 * 1024)):
            if i % 2:
                proxy.add_toxic("slicer", average_size=3000, size_variation=1000)
            else:
                proxy.clear_toxics()
            sock.sendall(view[start : start + 512 * 1024])
        sock.shutdown(socket.SHUT_WR)
        reader.join(20)
    assert hashlib.sha256(result[0]).digest() == hashlib.sha256(payload).digest()
