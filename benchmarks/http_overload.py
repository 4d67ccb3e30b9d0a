"""HTTP overload: a uvicorn service of capacity C offered 4 x C, with and without protect().

The service (``benchmarks._apps:service``) has C workers and a fixed service time, in its
own uvicorn process on 127.0.0.1. An open-loop load generator (arrivals scheduled at a
constant rate whatever the responses do, so overload shows instead of hiding) sends
4 x capacity with mixed priorities (10 % critical, 20 % high, 30 % normal, 40 % low),
each request with a 2 s budget (``X-Request-Timeout-Ms``) and a 2 s client timeout, plus a
``/livez`` probe every 100 ms. The same load runs against the bare service and against
``protect(service)`` (a LoadShedder sized a little above C), side by side in one run.

Targets (protected run; exit 1 if missed): /livez and critical ≥ 99.9 % successful;
high-priority p99 ≤ 10 x the service time; low shed first (shed rate low ≥ normal ≥ high).
The generator's own lag is printed: a run where the client fell behind is not a server
measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CAPACITY = 8
SERVICE_TIME = 0.1  # capacity 80 req/s: 4x of it stays within what one Python client can send
RATE = 4 * CAPACITY / SERVICE_TIME  # requests per second offered
MIX = (("critical", 0.10), ("high", 0.20), ("normal", 0.30), ("low", 0.40))
BUDGET = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    sent: int = 0
    ok: int = 0
    lag: list[float] = field(default_factory=list)
    shed: int = 0
    timeouts: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(url: str, seconds: float, seed: int) -> dict[str, Tally]:
    rng = random.Random(seed)
    tallies: dict[str, Tally] = defaultdict(Tally)
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=BUDGET) as client:

        async def one(kind: str, path: str, headers: dict[str, str], due: float) -> None:
            tally = tallies[kind]
            tally.sent += 1
            start = time.monotonic()
            tally.lag.append(start - due)  # how late the generator itself was
            try:
                async with asyncio.timeout(BUDGET):  # the shopper's whole budget, not per I/O
                    response = await client.get(url + path, headers=headers)
            except (httpx.TimeoutException, TimeoutError):
                tally.timeouts += 1
                return
            except httpx.TransportError:
                tally.errors += 1
                return
            if response.status_code == 200:
                tally.ok += 1
                tally.latencies.append(time.monotonic() - start)
            elif response.status_code == 503:
                tally.shed += 1
            else:
                tally.errors += 1

        tasks: list[asyncio.Task[None]] = []
        start = time.monotonic()
        n = 0
        next_probe = start
        names = [m for m, _ in MIX]
        weights = [w for _, w in MIX]
        while (now := time.monotonic()) - start < seconds:
            due = start + n / RATE
            if due > now:
                await asyncio.sleep(due - now)
            priority = rng.choices(names, weights)[0]
            headers = {
                "X-Request-Priority": priority,
                "X-Request-Timeout-Ms": str(int(BUDGET * 1000)),
            }
            tasks.append(asyncio.create_task(one(priority, "/work", headers, due)))
            n += 1
            if now >= next_probe:
                tasks.append(asyncio.create_task(one("livez", "/livez", {}, next_probe)))
                next_probe += 0.1
        await asyncio.gather(*tasks)
    return tallies


def serve(app: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SEAWALL_BENCH_CAPACITY": str(CAPACITY),
        "SEAWALL_BENCH_SERVICE_TIME": str(SERVICE_TIME),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--backlog",
            "4096",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/livez", timeout=0.5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def measure(app: str, seconds: float, seed: int) -> dict[str, Tally]:
    proc, url = serve(app)
    try:
        return asyncio.run(run_load(url, seconds, seed))
    finally:
        # An overloaded server may hold thousands of queued requests: do not wait for them.
        proc.kill()
        proc.wait(timeout=10)


def rate(t: Tally, n: int) -> str:
    return f"{n / t.sent:7.1%}" if t.sent else "    n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"capacity {CAPACITY} workers x {SERVICE_TIME * 1000:.0f} ms = "
        f"{CAPACITY / SERVICE_TIME:.0f} req/s; offered {RATE:.0f} req/s for {args.seconds:.0f}s"
    )
    runs = {
        "bare": measure("benchmarks._apps:service", args.seconds, args.seed),
        "protect()": measure("benchmarks._apps:protected_service", args.seconds, args.seed),
    }
    print("\n run        class     sent   success     shed  timeouts  p50 ms   p99 ms")
    for run, tallies in runs.items():
        for kind in ("livez", "critical", "high", "normal", "low"):
            t = tallies[kind]
            print(
                f" {run:<10} {kind:<8} {t.sent:>6} {rate(t, t.ok)} {rate(t, t.shed)} "
                f"{t.timeouts:>9} {t.p(0.5) * 1000:>7.0f} {t.p(0.99) * 1000:>8.0f}"
            )
        served = sum(t.ok for k, t in tallies.items() if k != "livez")
        print(f" {run:<10} goodput {served / args.seconds:.0f} req/s")
    for run, tallies in runs.items():
        lags = sorted(lag for t in tallies.values() for lag in t.lag)
        p99_lag = lags[int(0.99 * (len(lags) - 1))] if lags else 0.0
        print(f" {run}: load generator p99 lag {p99_lag * 1000:.0f} ms", end="")
        print("  (INVALID: the client fell behind)" if p99_lag > 0.1 else "")
    p = runs["protect()"]
    shed = {k: p[k].shed / max(p[k].sent, 1) for k in ("high", "normal", "low")}
    checks = {
        "/livez >= 99.9 %": p["livez"].ok >= 0.999 * p["livez"].sent,
        "critical >= 99.9 %": p["critical"].ok >= 0.999 * p["critical"].sent,
        "high p99 <= 10 x service time": p["high"].p(0.99) <= 10 * SERVICE_TIME,
        "low shed first": shed["low"] >= shed["normal"] >= shed["high"],
    }
    print()
    for name, ok in checks.items():
        print(f" {'PASS' if ok else 'FAIL'}  {name}")
    baseline = runs["bare"]["critical"]
    print(
        f"\n without protect(): critical success {rate(baseline, baseline.ok).strip()}, "
        f"p99 {baseline.p(0.99) * 1000:.0f} ms"
        f" (median of all p50s {statistics.median([t.p(0.5) for t in runs['bare'].values()]):.3f}s)"
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
