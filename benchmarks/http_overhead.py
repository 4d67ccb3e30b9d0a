"""HTTP overhead: protect() on the server, seawall's transport on the client.

Two measurements, each a side-by-side pair in one run:

* **server**: requests/s of a trivial endpoint on uvicorn, bare vs wrapped in the full
  ``seawall.http.protect()`` stack (health, deadline, shedding, idempotency, degraded).
  Each app runs in its own uvicorn process (one core); ``wrk`` on the other core drives
  it, so the server — not the load generator — is the bottleneck. Rounds alternate bare
  and protected to cancel drift; the median of the rounds is reported. Target ≥ 85 %.
* **client**: sequential GETs per second through plain ``httpx.Client`` vs
  ``seawall.http.Client`` against the same local server (here the client is the
  bottleneck). Rounds alternate which client goes first; the ratio is the median of the
  per-round ratios. Target ≥ 90 %.

Exit code 1 when a target is missed. ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

import seawall.http

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, app: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        for _ in range(200):
            try:
                httpx.get(self.url + "/", timeout=0.5)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{app} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wrk_rps(url: str, seconds: float) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{max(1, round(seconds))}s", url + "/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if match is None or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk run failed or saw errors:\n{out}")
    return float(match.group(1))


async def python_rps(url: str, seconds: float) -> float:
    """Fallback without wrk: 32 concurrent keep-alive clients (less exact)."""
    done = 0
    end = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < end:
            (await client.get(url + "/")).raise_for_status()
            done += 1

    async with httpx.AsyncClient() as client:
        await asyncio.gather(*(worker(client) for _ in range(32)))
    return done / seconds


def server_pair(rounds: int, seconds: float) -> tuple[float, float]:
    bare, protected = Server("benchmarks._apps:bare"), Server("benchmarks._apps:protected")
    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        print("  (wrk not found: using a Python load generator; install wrk for exact numbers)")
    measure = (
        (lambda u: wrk_rps(u, seconds))
        if use_wrk
        else (lambda u: asyncio.run(python_rps(u, seconds)))
    )
    try:
        measure(bare.url)  # warm-up both
        measure(protected.url)
        b, p = [], []
        for _ in range(rounds):
            b.append(measure(bare.url))
            p.append(measure(protected.url))
        return statistics.median(b), statistics.median(p)
    finally:
        bare.stop()
        protected.stop()


def client_pair(rounds: int, requests: int) -> tuple[float, float, float]:
    server = Server("benchmarks._apps:bare")
    try:
        plain = httpx.Client()
        ours = seawall.http.Client()

        def rate(client: httpx.Client) -> float:
            start = time.perf_counter()
            for _ in range(requests):
                client.get(server.url + "/").raise_for_status()
            return requests / (time.perf_counter() - start)

        rate(plain)
        rate(ours)
        a, b, ratios = [], [], []
        for i in range(rounds):
            # Alternate which goes first, and judge each round's back-to-back pair: drift
            # on a shared machine then lands on both sides of every ratio.
            first, second = (plain, ours) if i % 2 == 0 else (ours, plain)
            r1, r2 = rate(first), rate(second)
            p, o = (r1, r2) if first is plain else (r2, r1)
            a.append(p)
            b.append(o)
            ratios.append(o / p)
        plain.close()
        ours.close()
        return statistics.median(a), statistics.median(b), statistics.median(ratios)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, seconds, requests = (2, 1.0, 300) if args.quick else (5, 3.0, 2000)
    bare, protected = server_pair(rounds, seconds)
    plain, ours, client_ratio = client_pair(rounds + 4, requests)
    server_ratio = protected / bare
    print("\n what                              req/s      ratio   target   result")
    print(f" server: bare uvicorn app     {bare:>10.0f}")
    print(
        f" server: protect() stack      {protected:>10.0f}   {server_ratio:6.1%}   >= 85%   "
        f"{'PASS' if server_ratio >= 0.85 else 'FAIL'}"
    )
    print(f" client: plain httpx.Client   {plain:>10.0f}")
    print(
        f" client: seawall.http.Client  {ours:>10.0f}   {client_ratio:6.1%}   >= 90%   "
        f"{'PASS' if client_ratio >= 0.90 else 'FAIL'}"
    )
    return 0 if server_ratio >= 0.85 and client_ratio >= 0.90 else 1


if __name__ == "__main__":
    sys.exit(main())
