"""gRPC overhead: seawall's client and server interceptors against bare grpcio.

Unary calls per second, side by side in one run:

* **bare**: a plain ``grpc.insecure_channel`` calling a plain ``grpc.server``;
* **seawall**: ``seawall.grpc.channel`` (deadline-derived timeout, per-method retry,
  breaker and bulkhead per target, idempotency/priority/attempt metadata) calling a server
  behind ``seawall.grpc.server_interceptor`` (deadline scope, priority, a LoadShedder).

Each server runs in its own process on 127.0.0.1, with the same trivial handler (bytes in,
bytes out) and the same thread pool. The client makes sequential calls, so the whole path
— client, wire, server — is timed, as a user's calls see it. Rounds alternate which side
goes first and interleave the two sides in chunks of 50 calls, and each round gives one
ratio, so drift on a shared machine lands on both sides; the reported ratio is the
median of the rounds. Target: the
seawall side makes at least 85 % of the bare side's calls per second.

``--client interceptors`` measures the seawall side through
``grpc.intercept_channel(raw, *seawall.grpc.client_interceptors(...))`` instead of
``seawall.grpc.channel``: the same policies, plus grpcio's own interception cost (it builds
a new multi-callable for every intercepted call).

Exit code 1 when the target is missed. ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

import seawall
import seawall.grpc

ROOT = Path(__file__).resolve().parents[1]
METHOD = "/seawall.bench.Echo/Call"
TARGET = 0.85
CHUNK = 50


def _handle(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


def serve(kind: str) -> None:
    """Run one benchmark server (``bare`` or ``seawall``) and print its port."""
    interceptors = (
        [seawall.grpc.server_interceptor(shedder=seawall.LoadShedder("bench", limit=64))]
        if kind == "seawall"
        else []
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=interceptors)
    handler = grpc.method_handlers_generic_handler(
        "seawall.bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(_handle)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop(None)


class Server:
    def __init__(self, kind: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.target = f"127.0.0.1:{int(self.proc.stdout.readline())}"

    def stop(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def timed(call: grpc.UnaryUnaryMultiCallable[bytes, bytes], calls: int) -> float:
    """Seconds taken by ``calls`` sequential unary calls."""
    payload = b"x" * 64
    start = time.perf_counter()
    for _ in range(calls):
        call(payload)
    return time.perf_counter() - start


def round_pair(
    sides: dict[str, grpc.UnaryUnaryMultiCallable[bytes, bytes]], calls: int, first: str
) -> dict[str, float]:
    """Calls per second of each side over one round, in small alternating chunks.

    Chunks of 50 calls alternate between the sides, so a burst of load from elsewhere on
    the machine lands on both sides of the round rather than on one.
    """
    order = [first, *(side for side in sides if side != first)]
    spent = dict.fromkeys(sides, 0.0)
    for _ in range(calls // CHUNK):
        for side in order:
            spent[side] += timed(sides[side], CHUNK)
    return {side: (calls // CHUNK) * CHUNK / seconds for side, seconds in spent.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", choices=["channel", "interceptors"], default="channel")
    parser.add_argument("--serve", choices=["bare", "seawall"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    rounds, calls = (4, 300) if args.quick else (15, 1000)
    bare_server, seawall_server = Server("bare"), Server("seawall")
    try:
        plain = grpc.insecure_channel(bare_server.target, options=seawall.grpc.NO_RETRIES)
        ours: grpc.Channel = (
            seawall.grpc.channel(seawall_server.target)
            if args.client == "channel"
            else grpc.intercept_channel(
                grpc.insecure_channel(seawall_server.target, options=seawall.grpc.NO_RETRIES),
                *seawall.grpc.client_interceptors(seawall_server.target),
            )
        )
        sides = {"bare": plain.unary_unary(METHOD), "seawall": ours.unary_unary(METHOD)}
        for call in sides.values():
            timed(call, calls // 4)  # warm-up: connections, caches, thread pools
        results: dict[str, list[float]] = {"bare": [], "seawall": []}
        ratios = []
        for i in range(rounds):
            got = round_pair(sides, calls, "bare" if i % 2 == 0 else "seawall")
            for side, value in got.items():
                results[side].append(value)
            ratios.append(got["seawall"] / got["bare"])
        plain.close()
        ours.close()
    finally:
        bare_server.stop()
        seawall_server.stop()
    bare, wrapped = statistics.median(results["bare"]), statistics.median(results["seawall"])
    ratio = statistics.median(ratios)
    passed = ratio >= TARGET
    print("\n what                                   calls/s    ratio   target   result")
    print(f" bare grpcio channel + server        {bare:>10.0f}")
    label = "seawall.grpc channel" if args.client == "channel" else "client_interceptors()"
    print(
        f" {label:<21} + interceptor  {wrapped:>10.0f}   {ratio:6.1%}   >= 85%   "
        f"{'PASS' if passed else 'FAIL'}"
    )
    print(f" (per-round ratios: {min(ratios):.1%} .. {max(ratios):.1%}, {rounds} rounds)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
