"""A pipeline riding out a flaky dependency, with every decision printed as it happens.

Four phases against an in-process dependency with real latency: healthy, flaky (40 % of
calls fail: retries with jittered backoff recover them), down (the breaker opens and the
fallback answers at once instead of burning time and load), and recovered (after the
cooldown, half-open probes close the breaker). Run with ``make demo``.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from dataclasses import dataclass, field

import seawall

START = time.monotonic()


def stamp() -> str:
    return f"t={time.monotonic() - START:5.2f}s"


FAST_FAILS = 0


def show(event: seawall.Event) -> None:
    """A hook: print the decisions worth seeing (retries, refusals, breaker moves)."""
    global FAST_FAILS
    match event:
        case seawall.CallRejected():
            FAST_FAILS += 1  # counted, not printed: an open breaker rejects every call
        case seawall.RetryRefused(error=seawall.Rejected()):
            pass
        case seawall.RetryScheduled(attempt=n, delay=d, error=e):
            print(f"  {stamp()}  retry    attempt {n} failed ({e}); next in {d * 1000:.0f} ms")
        case seawall.RetryRefused(attempt=n, reason=r):
            print(f"  {stamp()}  retry    giving up after attempt {n}: {r}")
        case seawall.BreakerStateChanged(old=o, new=n, failure_rate=fr, calls=c):
            rate = "" if fr is None else f" ({fr:.0%} failed of {c} calls)"
            print(f"  {stamp()}  BREAKER  {o} -> {n}{rate}")


@dataclass
class Dependency:
    """An inventory service: 5 ms per call, failing with probability ``failure_rate``."""

    failure_rate: float = 0.0
    calls: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(42))

    def lookup(self, sku: str) -> int:
        self.calls += 1
        time.sleep(0.005)
        if self.rng.random() < self.failure_rate:
            raise ConnectionError("connection reset by inventory")
        return 7


def main() -> None:
    global FAST_FAILS
    dependency = Dependency()
    pipeline = seawall.standard(
        "inventory",
        kind="rpc",
        backoff=seawall.Backoff.exponential(initial=0.05),  # scaled down for a short demo
        window=5.0,
        min_calls=10,
        cooldown=2.0,
        fallback=seawall.Fallback(factory=lambda exc: -1),  # "stock unknown": a partial answer
        rng=random.Random(7),
    )
    stock = pipeline(dependency.lookup)
    seawall.add_hook(show)
    logging.getLogger("seawall").setLevel(logging.ERROR)  # the hook above prints instead

    phases = [
        ("healthy", 0.0, 1.0),
        ("flaky", 0.4, 2.0),
        ("down", 1.0, 2.0),
        ("recovered", 0.0, 3.0),
    ]
    rows = []
    for name, failure_rate, seconds in phases:
        print(f"\n== {name}: dependency fails {failure_rate:.0%} of calls, for {seconds:.0f} s")
        dependency.failure_rate = failure_rate
        before = dependency.calls
        latencies: list[float] = []
        answered = degraded = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            answer = stock("sku-1")
            latencies.append(time.monotonic() - t0)
            if answer >= 0:
                answered += 1
            else:
                degraded += 1
            time.sleep(0.02)
        if FAST_FAILS:
            print(f"  {stamp()}  breaker  failed {FAST_FAILS} calls fast while open (no waiting)")
        FAST_FAILS = 0
        rows.append(
            (
                name,
                len(latencies),
                answered,
                degraded,
                dependency.calls - before,
                statistics.median(latencies) * 1000,
                max(latencies) * 1000,
                pipeline.breaker.state,
            )
        )

    print("\n phase       requests  answered  fallback  dependency calls  p50 ms  max ms  breaker")
    for name, n, ok, fb, calls, p50, worst, state in rows:
        print(f" {name:<10} {n:>9} {ok:>9} {fb:>9} {calls:>17} {p50:>7.1f} {worst:>7.1f}  {state}")
    print(
        "\nEvery request got an answer: retries hid the flaky phase, the open breaker turned a\n"
        "dead dependency into instant fallbacks (no load on it while down), and half-open\n"
        "probes brought it back without a thundering herd."
    )


if __name__ == "__main__":
    main()
