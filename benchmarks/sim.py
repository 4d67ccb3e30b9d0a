"""seawall.sim against SimPy on the same M/M/c queue, side by side in one run.

Run it from the repository root::

    .venv/bin/python benchmarks/sim.py            # full run, ~half a minute
    .venv/bin/python benchmarks/sim.py --quick    # smoke run, a few seconds
    .venv/bin/python benchmarks/sim.py --json results.json

What is measured
    The M/M/10 queue with lambda = 8 and mu = 1 (utilisation 0.8), unbounded FIFO queue,
    run for ``--until`` virtual seconds from empty. SimPy runs it the way its
    documentation models a queue: a source process spawning one process per customer,
    which requests a ``simpy.Resource`` with 10 slots, holds it for an exponential
    service time and releases it. seawall.sim runs it through its public API:
    ``World.service(servers=10, service_time=exponential(1.0))`` and
    ``World.load(rate=8.0)``. Both draw from ``random.Random`` with the same seed.

    *customers/s* is customers served per wall-clock second; *events/s* is events the
    engine processed per wall-clock second (SimPy: events it scheduled, read from its
    event-id counter). Customers/s is the comparable figure: the two engines spend a
    different number of events on one customer, and that difference is part of the cost.

Method
    One process; the two rows alternate within each repeat (the order rotates), so
    both see the same minutes of machine load. Reported: the median over repeats, and
    the ratio of medians. The mean waits are printed as a check that both ran the
    same model (Erlang C: Wq = 0.20459).

    A third row runs every request through ``seawall.standard("db", kind="rpc")``
    (timeouts, retries, breaker, bulkhead), built with the world's clock and random
    stream: the real policy code, as asyncio tasks on the world's virtual loop. Its
    queue is the same M/M/10 at the same utilisation with times scaled by 1/100 (mean
    service 10 ms), so the 1 s per-attempt timeout of ``kind="rpc"`` never fires and the
    row measures the policies' cost, not a different queue; customers per wall second
    do not depend on the scale of virtual time.

Targets (exit status 1 when either is missed): seawall.sim with no policy >= 1.0x
SimPy's customers/s, and with ``standard()`` on every call >= 0.5x SimPy's (bare)
customers/s.

``--metastable`` instead runs the built-in metastable scenario at 10,000 clients (both
configurations, 120 virtual seconds each) and exits 1 if it takes more than 120 s of wall
time in all, or if its verdict is not a seawall win.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

from seawall import sim

LAMBDA, MU, SERVERS = 8.0, 1.0, 10
TARGET = 1.0
STANDARD_TARGET = 0.5


def run_simpy(until: float, seed: int) -> tuple[int, int, float, float]:
    """(customers served, events scheduled, mean wait, wall seconds)."""
    import simpy

    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    rng = random.Random(seed)
    served = [0]
    waits = [0.0]

    def customer(env: simpy.Environment) -> Generator[Any, Any, None]:
        arrived = env.now
        with servers.request() as request:
            yield request
            waits[0] += env.now - arrived
            yield env.timeout(rng.expovariate(MU))
        served[0] += 1

    def source(env: simpy.Environment) -> Generator[Any, Any, None]:
        while True:
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(customer(env))

    env.process(source(env))
    start = time.perf_counter()
    env.run(until=until)
    wall = time.perf_counter() - start
    events = next(env._eid)  # SimPy numbers every event it schedules
    return served[0], events, waits[0] / max(served[0], 1), wall


def run_seawall(until: float, seed: int) -> tuple[int, int, float, float]:
    """(customers served, events processed, mean wait, wall seconds)."""
    world = sim.World(seed=seed)
    db = world.service("db", servers=SERVERS, service_time=sim.exponential(mean=1.0 / MU))
    world.load(db, rate=LAMBDA)
    start = time.perf_counter()
    result = world.run(until=until, interval=until)
    wall = time.perf_counter() - start
    stats = result.services["db"]
    return stats.completed, result.events, stats.mean_wait, wall


def run_seawall_standard(until: float, seed: int) -> tuple[int, int, float, float]:
    """The same queue, times / 100, every request through ``standard()``."""
    import seawall

    scale = 100.0
    world = sim.World(seed=seed)
    db = world.service("db", servers=SERVERS, service_time=sim.exponential(mean=1.0 / MU / scale))
    world.load(
        db,
        rate=LAMBDA * scale,
        policy=lambda w: seawall.standard("db", kind="rpc", clock=w.clock, rng=w.rng),
    )
    start = time.perf_counter()
    # A twentieth of the other rows' customers: a request through the policies costs
    # several times what the bare engine spends on it, and the row should not dominate
    # the run's wall time.
    result = world.run(until=until / scale / 20, interval=until / scale / 20)
    wall = time.perf_counter() - start
    stats = result.services["db"]
    return stats.completed, result.events, stats.mean_wait * scale, wall


BARE = "seawall.sim (World.service + World.load)"
STANDARD = "seawall.sim, standard() on every call"
ROWS: dict[str, Callable[[float, int], tuple[int, int, float, float]]] = {
    "SimPy 4 (Resource, process per customer)": run_simpy,
    BARE: run_seawall,
    STANDARD: run_seawall_standard,
}


METASTABLE_LIMIT = 120.0  # wall seconds for both configurations of the scenario


def metastable(clients: int) -> int:
    """The scenario at scale, timed as a user runs it: 0 when fast enough and won."""
    from seawall.sim._scenarios import run_scenario

    outcome = run_scenario("metastable", clients)
    wall = sum(run.wall for run in outcome.runs.values())
    for run in outcome.runs.values():
        print(
            f"{run.mode}: {run.wall:.1f} s wall, {run.events:,} events"
            f" ({run.events / run.wall:,.0f}/s), {run.requests:,} requests"
        )
    fast = wall <= METASTABLE_LIMIT
    print(
        f"metastable at {clients:,} clients: {wall:.1f} s wall in all"
        f" (target <= {METASTABLE_LIMIT:.0f} s) {'ok' if fast else 'MISSED'};"
        f" verdict: {'seawall wins' if outcome.won else 'NOT WON'}: {outcome.why}"
    )
    return 0 if fast and outcome.won else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--until", type=float, default=None, help="virtual seconds per run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--metastable",
        type=int,
        nargs="?",
        const=10_000,
        metavar="CLIENTS",
        help="time the metastable scenario instead (default 10,000 clients)",
    )
    args = parser.parse_args(argv)
    if args.metastable is not None:
        if args.metastable < 1:
            print("sim.py: --metastable needs at least 1 client", file=sys.stderr)
            return 2
        logging.getLogger("seawall").setLevel(logging.ERROR)  # a breaker per caller
        return metastable(args.metastable)
    until = args.until or (2_000.0 if args.quick else 20_000.0)
    repeats = args.repeats or (3 if args.quick else 7)
    if until <= 0 or repeats < 1:
        print("sim.py: --until must be > 0 and --repeats >= 1", file=sys.stderr)
        return 2

    names = list(ROWS)
    samples: dict[str, list[tuple[int, int, float, float]]] = {name: [] for name in names}
    for name in names:  # warm-up, not recorded
        ROWS[name](min(until, 200.0), 0)
    for repeat in range(repeats):
        order = names if repeat % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            gc.disable()
            try:
                samples[name].append(ROWS[name](until, repeat))
            finally:
                gc.enable()

    report: dict[str, dict[str, float]] = {}
    print(f"M/M/{SERVERS}, lambda={LAMBDA}, mu={MU}, {until:,.0f} virtual s, {repeats} repeats")
    print(f"{'row':44} {'customers/s':>12} {'events/s':>12} {'Wq':>8}")
    for name in names:
        rows = samples[name]
        customers = statistics.median(c / w for c, _, _, w in rows)
        events = statistics.median(e / w for _, e, _, w in rows)
        wait = statistics.fmean(q for _, _, q, _ in rows)
        report[name] = {"customers_per_s": customers, "events_per_s": events, "mean_wait": wait}
        print(f"{name:44} {customers:12,.0f} {events:12,.0f} {wait:8.4f}")
    simpy_row = report[names[0]]["customers_per_s"]
    ratio = report[BARE]["customers_per_s"] / simpy_row
    standard_ratio = report[STANDARD]["customers_per_s"] / simpy_row
    verdict = "ok" if ratio >= TARGET else "MISSED"
    print(
        f"ratio seawall.sim / SimPy customers/s: {ratio:.2f}x (target >= {TARGET:.1f}x) {verdict}"
    )
    standard_verdict = "ok" if standard_ratio >= STANDARD_TARGET else "MISSED"
    print(
        f"ratio seawall.sim with standard() / SimPy customers/s: {standard_ratio:.2f}x"
        f" (target >= {STANDARD_TARGET:.1f}x) {standard_verdict}"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "until": until,
                    "repeats": repeats,
                    "rows": report,
                    "ratio": ratio,
                    "standard_ratio": standard_ratio,
                },
                out,
            )
    return 0 if ratio >= TARGET and standard_ratio >= STANDARD_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
