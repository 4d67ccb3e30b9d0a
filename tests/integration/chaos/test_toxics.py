"""Every toxic against real sockets: what a client actually sees, and how accurately.

Timings are checked with tolerances that hold on a busy 2-core machine: latency as the
median of several round trips against a measured baseline, bandwidth over half a second
of transfer. Delays can be late under load but never early, so lower bounds are tight
and upper bounds leave room.
"""

from __future__ import annotations

import gc
import random
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.chaos.conftest import (
    blob,
    connect,
    echo,
    median_ms,
    pattern,
    recv_all,
    round_trips,
    sink,
)

Start = Callable[..., Any]


def _baseline_ms(proxy: Any) -> float:
    with connect(proxy.listen) as sock:
        round_trips(sock, 3)
        return median_ms(round_trips(sock, 7))


def test_latency_adds_its_delay_to_every_reply(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    base = _baseline_ms(proxy)
    proxy.add_toxic("latency", latency=100)
    with connect(proxy.listen) as sock:
        samples = [t * 1000 - base for t in round_trips(sock, 7)]
    added = sorted(samples)[len(samples) // 2]
    print(f"latency 100 ms: added median {added:.2f} ms, samples {[round(s, 1) for s in samples]}")
    assert 90 <= added <= 110
    assert min(samples) >= 99  # never early


def test_latency_jitter_spreads_within_its_bounds(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address, rng=random.Random(3))
    base = _baseline_ms(proxy)
    proxy.add_toxic("latency", latency=60, jitter=20)
    with connect(proxy.listen) as sock:
        samples = [t * 1000 - base for t in round_trips(sock, 15)]
    print(f"latency 60±20 ms: added {[round(s, 1) for s in sorted(samples)]}")
    assert min(samples) >= 40 - 1  # latency - jitter, never early
    within = [s for s in samples if 40 - 10 <= s <= 80 + 10]
    assert len(within) >= len(samples) - 1  # one sample may be late on a busy machine
    assert max(samples) - min(samples) >= 10  # the jitter is really there


def test_latency_on_upstream_delays_requests(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    base = _baseline_ms(proxy)
    proxy.add_toxic("latency", stream="upstream", latency=50)
    with connect(proxy.listen) as sock:
        added = median_ms(round_trips(sock, 5)) - base
    assert 45 <= added <= 60


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_bandwidth_holds_the_rate(upstream: Start, fault_proxy: Start, stream: str) -> None:
    size, rate_kb = 1_000_000, 2000  # 2 MB/s: half a second of transfer
    server = upstream(blob(size) if stream == "downstream" else sink)
    proxy = fault_proxy(server.address)
    proxy.add_toxic("bandwidth", stream=stream, rate=rate_kb)
    with connect(proxy.listen, timeout=10) as sock:
        start = time.perf_counter()
        if stream == "downstream":
            got = len(recv_all(sock))
        else:
            sock.sendall(pattern(size))
            sock.shutdown(socket.SHUT_WR)
            got = int(recv_all(sock))
        elapsed = time.perf_counter() - start
    measured = got / elapsed / 1000
    print(f"bandwidth {stream} {rate_kb} KB/s: measured {measured:.0f} KB/s")
    assert got == size
    assert abs(measured - rate_kb) <= 0.15 * rate_kb


def test_reset_peer_is_a_connection_reset(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    proxy.add_toxic("reset_peer", stream="upstream", timeout=0)
    with connect(proxy.listen) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_reset_peer_waits_its_timeout_after_the_first_data(
    upstream: Start, fault_proxy: Start
) -> None:
    proxy = fault_proxy(upstream(echo).address)
    proxy.add_toxic("reset_peer", timeout=150)  # downstream: the echo starts the timer
    with connect(proxy.listen) as sock:
        start = time.perf_counter()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
        elapsed = time.perf_counter() - start
    assert 0.15 <= elapsed <= 0.5


def test_timeout_zero_blackholes_until_removed_then_closes(
    upstream: Start, fault_proxy: Start
) -> None:
    proxy = fault_proxy(upstream(echo).address)
    with connect(proxy.listen) as sock:
        proxy.add_toxic("timeout", stream="upstream", timeout=0)
        sock.sendall(b"lost")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing comes back, and the connection stays open
        proxy.remove_toxic("timeout_upstream")
        # The dropped bytes left a hole in the stream: the connection is closed rather
        # than carried on, so no client pairs a request with the wrong response.
        sock.settimeout(1)
        assert sock.recv(100) == b""


def test_timeout_passes_on_a_close_during_the_blackhole(
    upstream: Start, fault_proxy: Start
) -> None:
    proxy = fault_proxy(upstream(echo).address)
    with connect(proxy.listen) as sock:
        proxy.add_toxic("timeout", stream="upstream", timeout=0)
        sock.sendall(b"lost")
        sock.shutdown(socket.SHUT_WR)  # the client is done: the proxy closes, as Toxiproxy
        sock.settimeout(1)
        assert sock.recv(100) == b""


def test_timeout_closes_the_connection_after_its_timeout(
    upstream: Start, fault_proxy: Start
) -> None:
    proxy = fault_proxy(upstream(echo).address)
    proxy.add_toxic("timeout", timeout=200)
    with connect(proxy.listen) as sock:
        start = time.perf_counter()
        sock.sendall(b"hello")
        assert sock.recv(100) == b""  # no data, then EOF
        elapsed = time.perf_counter() - start
    assert 0.19 <= elapsed <= 0.6


@pytest.mark.parametrize("limit", [1, 1234, 9999])
def test_limit_data_closes_after_exactly_n_bytes(
    upstream: Start, fault_proxy: Start, limit: int
) -> None:
    proxy = fault_proxy(upstream(blob(10_000)).address)
    proxy.add_toxic("limit_data", bytes=limit)
    with connect(proxy.listen) as sock:
        got = recv_all(sock)
    assert got == pattern(10_000)[:limit]


def test_limit_data_on_upstream_cuts_the_request(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(sink).address)
    proxy.add_toxic("limit_data", stream="upstream", bytes=1000)
    with connect(proxy.listen) as sock:
        sock.sendall(pattern(5000))
        assert recv_all(sock) == b""  # closed before the sink could answer


def test_slow_close_delays_the_close_not_the_data(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(blob(100)).address)
    proxy.add_toxic("slow_close", delay=300)
    with connect(proxy.listen) as sock:
        start = time.perf_counter()
        data = sock.recv(1000)
        first = time.perf_counter() - start
        rest = recv_all(sock)
        closed = time.perf_counter() - start
    assert data + rest == pattern(100)
    assert first < 0.2
    assert 0.3 <= closed <= 0.8


def test_slicer_delivers_everything_in_delayed_pieces(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(blob(20_000)).address, rng=random.Random(5))
    proxy.add_toxic("slicer", average_size=1000, size_variation=200, delay=5000)
    with connect(proxy.listen) as sock:
        start = time.perf_counter()
        reads = []
        while data := sock.recv(65536):
            reads.append(data)
        elapsed = time.perf_counter() - start
    assert b"".join(reads) == pattern(20_000)
    assert elapsed >= 16 * 0.005  # at least 17 pieces of at most 1200 bytes, 5 ms apart
    assert len(reads) >= 8  # pieces arrive separately, not as one read
    assert max(len(r) for r in reads) < 20_000


def test_toxics_compose_in_order(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(blob(5000)).address)
    proxy.add_toxic("latency", latency=100)
    proxy.add_toxic("limit_data", bytes=10)
    with connect(proxy.listen) as sock:
        start = time.perf_counter()
        got = recv_all(sock)
        elapsed = time.perf_counter() - start
    assert got == pattern(10)
    assert elapsed >= 0.099


def _toxicity_hits(proxy: Any, connections: int) -> int:
    hits = 0
    for _ in range(connections):
        with connect(proxy.listen) as sock:
            if recv_all(sock) == b"":  # limit_data 0: the affected connection closes at once
                hits += 1
    return hits


def test_toxicity_half_affects_about_half_of_connections(
    upstream: Start, fault_proxy: Start
) -> None:
    proxy = fault_proxy(upstream(blob(10)).address, rng=random.Random(2024))
    proxy.add_toxic("limit_data", bytes=0, toxicity=0.5)
    n = 200
    hits = _toxicity_hits(proxy, n)
    print(f"toxicity 0.5: {hits}/{n} connections affected")
    # Binomial(200, 0.5): mean 100, sd 7.07; [65, 135] is +/-4.9 sd (p < 1e-6 to fail).
    assert 65 <= hits <= 135


@pytest.mark.parametrize(("toxicity", "expected"), [(0.0, 0), (1.0, 20)])
def test_toxicity_zero_and_one_are_never_and_always(
    upstream: Start, fault_proxy: Start, toxicity: float, expected: int
) -> None:
    proxy = fault_proxy(upstream(blob(10)).address)
    proxy.add_toxic("limit_data", bytes=0, toxicity=toxicity)
    assert _toxicity_hits(proxy, 20) == expected


def test_toxicity_is_decided_once_per_connection(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address, rng=random.Random(11))
    proxy.add_toxic("latency", latency=40, toxicity=0.5)
    affected = []
    for _ in range(10):
        with connect(proxy.listen) as sock:
            samples = round_trips(sock, 3)
        slow = [t >= 0.039 for t in samples]
        assert len(set(slow)) == 1  # all round trips of a connection alike
        affected.append(slow[0])
    assert any(affected)
    assert not all(affected)


def test_seeded_rng_makes_toxicity_reproducible(upstream: Start, fault_proxy: Start) -> None:
    server = upstream(blob(10))
    runs = []
    for _ in range(2):
        proxy = fault_proxy(server.address, rng=random.Random(99))
        proxy.add_toxic("limit_data", bytes=0, toxicity=0.5)
        pattern_seen = []
        for _ in range(12):
            with connect(proxy.listen) as sock:
                pattern_seen.append(recv_all(sock) == b"")
        runs.append(pattern_seen)
    assert runs[0] == runs[1]


def test_toxic_added_mid_connection_affects_it(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    with connect(proxy.listen) as sock:
        assert median_ms(round_trips(sock, 3)) < 30
        with proxy.toxic("latency", latency=80):
            assert median_ms(round_trips(sock, 3)) >= 79
        assert median_ms(round_trips(sock, 3)) < 30  # back on the fast path


def test_updating_a_toxic_changes_it_live(upstream: Start, fault_proxy: Start) -> None:
    proxy = fault_proxy(upstream(echo).address)
    proxy.add_toxic("latency", latency=30)
    with connect(proxy.listen) as sock:
        assert 29 <= median_ms(round_trips(sock, 3)) < 60
        proxy.update_toxic("latency_downstream", latency=90)
        assert median_ms(round_trips(sock, 3)) >= 89


def test_stopping_the_proxy_closes_connections_still_flushing(
    upstream: Start, fault_proxy: Start
) -> None:
    def flood(conn: socket.socket) -> None:
        while True:
            conn.sendall(b"x" * 65536)

    proxy = fault_proxy(upstream(flood).address)
    with connect(proxy.listen):
        proxy.add_toxic("timeout", stream="upstream", timeout=0)
        time.sleep(0.3)  # the client reads nothing: output piles up at the proxy
        proxy.remove_toxic("timeout_upstream")  # a graceful close, still flushing
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            proxy.close()  # the service is down: its sockets are closed, none left behind
            gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
