"""What seawall's fault-injection proxy costs when no toxic is set.

Run it from the repository root::

    .venv/bin/python benchmarks/proxy.py                # 100 MB x 21, 2000 round trips x 21
    .venv/bin/python benchmarks/proxy.py --quick        # smoke run, a few seconds
    .venv/bin/python benchmarks/proxy.py --json out.json

What is measured, in one run
    1. Bulk throughput: a client sends ``--size`` MB (100 by default) to a sink that
       acknowledges the last byte; the time from the first send to the acknowledgement,
       once over a direct loopback connection and once through the proxy. Target: the
       proxy carries >= 50 % of the direct throughput.
    2. Added latency: ``--round-trips`` small request/response exchanges (64 bytes each
       way) with an echo server on one open connection, direct and through the proxy.
       Target: the proxy adds <= 1 ms to the median round trip.

Method, and why
    * The proxy runs as a separate process, ``seawall proxy`` itself (as a game day runs
      it, and as Toxiproxy runs): the figures include nothing but the proxy's own work and
      the extra loopback hop, and the client's and servers' threads do not share its GIL.
    * The client and the upstream servers are plain blocking sockets in threads of this
      process (1 MiB ``sendall`` / ``recv_into``), the fastest a Python peer gets, so the
      direct baseline is as demanding as it can be.
    * Direct and proxied runs alternate within each of ``--repeats`` rounds, so a noisy
      moment of the machine lands on both rather than on one; the reported figures are
      medians over the rounds (noise only ever slows things down and comes in bursts),
      with min and max alongside. The throughput ratio is the median of the per-round
      ratios (each round's two transfers ran back to back, under the same load). Single
      rounds on two shared cores range from about 25 % to 85 %, so the median needs many of
      them: with 9 rounds it moved 46-58 % between runs, with 21 rounds 52-59 %.
    * Latency: per round, the median of the round trips of each path; the added latency
      is the median over rounds of (proxied median - direct median).

Exit status 1 if a target is missed. Numbers on a shared 2-core machine are noisy; the
ratio from one run is what to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20
MESSAGE = b"x" * 64


class Server:
    """A blocking-socket server on 127.0.0.1 running ``handler`` per connection."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.handler(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def sink(conn: socket.socket) -> None:
    """Each transfer starts with its size (8 bytes); acknowledge its last byte with b"k"."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while header := conn.recv(8, socket.MSG_WAITALL):
        left = int.from_bytes(header, "big")
        while left > 0:
            n = conn.recv_into(view, min(left, CHUNK))
            if n == 0:
                return
            left -= n
        conn.sendall(b"k")


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def connect(address: str) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def transfer_seconds(address: str, size: int) -> float:
    payload = memoryview(bytes(CHUNK))
    with connect(address) as sock:
        start = time.perf_counter()
        sock.sendall(size.to_bytes(8, "big"))
        left = size
        while left > 0:
            n = min(left, CHUNK)
            sock.sendall(payload[:n])
            left -= n
        if sock.recv(1) != b"k":
            raise RuntimeError("sink did not acknowledge the transfer")
        return time.perf_counter() - start


def round_trip_median(sock: socket.socket, count: int) -> float:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(MESSAGE)
        got = 0
        while got < len(MESSAGE):
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("echo connection closed")
            got += len(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_proxy(
    sink_address: str, echo_address: str
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seawall.cli",
            "proxy",
            "--port",
            "0",
            "--proxy",
            "sink",
            "127.0.0.1:0",
            sink_address,
            "--proxy",
            "echo",
            "127.0.0.1:0",
            echo_address,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    listen: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(listen) < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"proxy (\w+) listening on (\S+) ->", line)
        if match:
            listen[match.group(1)] = match.group(2)
    if len(listen) < 2:
        process.kill()
        _, err = process.communicate()
        raise RuntimeError(f"seawall proxy did not start: {err}")
    return process, listen


def stop_proxy(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def spread(values: list[float], scale: float, unit: str) -> str:
    return (
        f"median {statistics.median(values) * scale:8.1f} {unit}   "
        f"(min {min(values) * scale:.1f}, max {max(values) * scale:.1f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100, help="MB per bulk transfer (100)")
    parser.add_argument("--repeats", type=int, default=21, help="rounds (21)")
    parser.add_argument("--round-trips", type=int, default=2000, help="per path per round (2000)")
    parser.add_argument("--quick", action="store_true", help="20 MB, 3 rounds, 500 round trips")
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args()
    if args.quick:
        args.size, args.repeats, args.round_trips = 20, 3, 500
    size = args.size * 1_000_000

    sink_server, echo_server = Server(sink), Server(echo)
    process, listen = start_proxy(sink_server.address, echo_server.address)
    direct_tp: list[float] = []
    proxy_tp: list[float] = []
    direct_rtt: list[float] = []
    proxy_rtt: list[float] = []
    try:
        transfer_seconds(sink_server.address, size // 10)  # warm up both paths
        transfer_seconds(listen["sink"], size // 10)
        with connect(echo_server.address) as direct, connect(listen["echo"]) as proxied:
            round_trip_median(direct, 200)
            round_trip_median(proxied, 200)
            for i in range(args.repeats):
                # Alternate which path goes first, so neither always gets the warmer caches.
                pair = [(direct_tp, sink_server.address), (proxy_tp, listen["sink"])]
                for samples, address in pair if i % 2 == 0 else pair[::-1]:
                    samples.append(size / transfer_seconds(address, size))
                rtt = [(direct_rtt, direct), (proxy_rtt, proxied)]
                for samples, sock in rtt if i % 2 == 0 else rtt[::-1]:
                    samples.append(round_trip_median(sock, args.round_trips))
    finally:
        stop_proxy(process)
        sink_server.close()
        echo_server.close()

    # Each round's direct and proxied transfers ran back to back, under the same load;
    # the median of the per-round ratios is robust to the machine's load drifting.
    ratios = [p / d for p, d in zip(proxy_tp, direct_tp, strict=True)]
    ratio = statistics.median(ratios)
    added = statistics.median(p - d for p, d in zip(proxy_rtt, direct_rtt, strict=True))
    print(
        f"seawall proxy, no toxics: {args.size} MB transfers and {args.round_trips} "
        f"round trips of {len(MESSAGE)} B, {args.repeats} rounds\n"
    )
    print(f"throughput direct   {spread(direct_tp, 1e-6, 'MB/s')}")
    print(f"throughput proxied  {spread(proxy_tp, 1e-6, 'MB/s')}")
    print(f"round trip direct   {spread(direct_rtt, 1e6, 'µs')}   (p50 per round)")
    print(f"round trip proxied  {spread(proxy_rtt, 1e6, 'µs')}   (p50 per round)")
    print(f"throughput ratio per round: {', '.join(f'{r:.0%}' for r in ratios)}\n")
    targets = [
        ("throughput through the proxy >= 50% of direct", ratio >= 0.5, f"{ratio:.0%}"),
        ("added p50 round-trip latency <= 1 ms", added <= 0.001, f"{added * 1e3:.3f} ms"),
    ]
    for name, ok, value in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "size_bytes": size,
                    "round_trips": args.round_trips,
                    "throughput_direct_Bps": direct_tp,
                    "throughput_proxied_Bps": proxy_tp,
                    "rtt_p50_direct_s": direct_rtt,
                    "rtt_p50_proxied_s": proxy_rtt,
                    "throughput_ratios": ratios,
                    "throughput_ratio": ratio,
                    "added_p50_s": added,
                },
                indent=2,
            )
        )
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
