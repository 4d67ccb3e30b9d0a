"""seawall.requests.Session vs a plain requests.Session: sequential GETs per second.

Both sessions call the same trivial endpoint on one local uvicorn process (the bare app
of ``benchmarks/http_overhead.py``), one request at a time, so the client is the
bottleneck and its per-request cost is what the rates differ by. Each round times both
back to back, alternating which goes first, and the ratio is the median of the
per-round ratios (their spread is printed): drift on a shared machine then lands on both
sides of every ratio. Target: seawall >= 90 % of plain. Exit code 1 on a miss.
``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import requests

import seawall.requests
from benchmarks.http_overhead import Server, sequential_gets, side_by_side

TARGET = 0.90


def pair(rounds: int, calls: int) -> tuple[float, float, list[float]]:
    server = Server("benchmarks._apps:bare")
    try:
        with requests.Session() as plain, seawall.requests.Session() as ours:
            rate = sequential_gets(server.url + "/", calls)
            return side_by_side(rounds, plain, ours, rate)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, calls = (4, 200) if args.quick else (30, 300)
    plain, ours, ratios = pair(rounds, calls)
    ratio = statistics.median(ratios)
    print("\n what                          req/s      ratio   target   result")
    print(f" plain requests.Session   {plain:>10.0f}")
    print(
        f" seawall.requests.Session {ours:>10.0f}   {ratio:6.1%}   >= 90%   "
        f"{'PASS' if ratio >= TARGET else 'FAIL'}   "
        f"(rounds {min(ratios):.1%}-{max(ratios):.1%})"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
