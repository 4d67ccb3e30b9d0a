"""Overload benchmark: a service offered 4x its capacity, with and without a LoadShedder.

In-process asyncio, real time, bounded (about 30 s). The simulated service has C workers
and a fixed service time; excess work queues inside it (as requests queue in a real
server's accept backlog and thread pool) and, like a real server, it keeps working on a
request whose client has already given up. Clients send an open-loop Poisson load of
4 x capacity with mixed priorities and give up after CLIENT_TIMEOUT.

Columns, side by side in one run:
  unloaded           0.5 x capacity, no shedder: the reference p99
  no shedder         4 x capacity: the queue grows without bound, latency climbs to the
                     client timeout, and the service spends itself on abandoned work
  shedder (fixed)    4 x capacity through LoadShedder(limit=1.1 C)
  shedder (gradient) 4 x capacity through LoadShedder(GradientLimit) (for information)

Targets (checked on the fixed-limit shedder; exit status 1 if one is missed):
  goodput >= 90 % of capacity; critical and high success >= 99 %;
  p99 latency of admitted requests <= 3 x the unloaded p99.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import seawall

C = 20  # concurrent capacity of the service
SERVICE_TIME = 0.050  # seconds per request
CAPACITY = C / SERVICE_TIME  # requests per second
OVERLOAD = 4.0
DURATION = 6.0  # seconds of offered load per scenario
CLIENT_TIMEOUT = 1.0
MIX = (("critical", 0.05), ("high", 0.15), ("normal", 0.40), ("low", 0.40))
PRIORITIES = [p for p, _ in MIX]


@dataclass
class Outcome:
    offered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRIORITIES, 0))
    ok: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRIORITIES, 0))
    shed: int = 0
    timeouts: int = 0
    latencies: list[float] = field(default_factory=list)
    wasted: int = 0  # work the service did for clients that had already left

    def success(self, *priorities: str) -> float:
        offered = sum(self.offered[p] for p in priorities)
        return sum(self.ok[p] for p in priorities) / offered if offered else 1.0

    def goodput(self) -> float:
        return sum(self.ok.values()) / DURATION / CAPACITY

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Service:
    """C workers, fixed service time; excess work waits in an unbounded FIFO."""

    def __init__(self) -> None:
        self.workers = asyncio.Semaphore(C)
        self.tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, abandoned: list[bool], outcome: Outcome) -> None:
        async with self.workers:
            await asyncio.sleep(SERVICE_TIME)
            if abandoned[0]:
                outcome.wasted += 1

    def submit(self, abandoned: list[bool], outcome: Outcome) -> asyncio.Task[None]:
        task = asyncio.create_task(self._handle(abandoned, outcome))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


Handler = Callable[[str, Outcome], Awaitable[None]]


async def drive(rate: float, handler: Handler, outcome: Outcome, seed: int) -> None:
    """Open loop: Poisson arrivals at ``rate``/s regardless of how the service copes."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_at = start
    clients: set[asyncio.Task[None]] = set()
    weights = [w for _, w in MIX]
    while next_at - start < DURATION:
        now = loop.time()
        while next_at <= now and next_at - start < DURATION:
            priority = rng.choices(PRIORITIES, weights)[0]
            outcome.offered[priority] += 1
            task = asyncio.create_task(handler(priority, outcome))
            clients.add(task)
            task.add_done_callback(clients.discard)
            next_at += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    await asyncio.gather(*clients)


def client(service: Service, shedder: seawall.LoadShedder | None) -> Handler:
    async def call(priority: str, outcome: Outcome) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        abandoned = [False]
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT):
                if shedder is None:
                    await asyncio.shield(service.submit(abandoned, outcome))
                else:
                    async with shedder.admit(priority):
                        await asyncio.shield(service.submit(abandoned, outcome))
        except seawall.LoadShed:
            outcome.shed += 1
            return
        except TimeoutError:
            abandoned[0] = True
            outcome.timeouts += 1
            return
        outcome.ok[priority] += 1
        outcome.latencies.append(loop.time() - started)

    return call


async def scenario(rate: float, make_shedder: Callable[[], seawall.LoadShedder | None]) -> Outcome:
    service = Service()
    outcome = Outcome()
    try:
        await drive(rate, client(service, make_shedder()), outcome, seed=42)
    finally:
        await service.close()
    return outcome


def fixed_shedder() -> seawall.LoadShedder:
    # A little above the service's C: its own short queue keeps every worker busy, and the
    # shares still leave high and critical the top of the limit.
    return seawall.LoadShedder("bench", limit=int(C * 1.1))


def gradient_shedder() -> seawall.LoadShedder:
    limit = seawall.GradientLimit(initial=C, min_limit=C // 2, max_limit=4 * C, window=0.25)
    return seawall.LoadShedder("bench", limit=limit)


async def main() -> int:
    unloaded = await scenario(CAPACITY * 0.5, lambda: None)
    loaded = CAPACITY * OVERLOAD
    columns = {
        "unloaded": unloaded,
        "no shedder": await scenario(loaded, lambda: None),
        "shedder (fixed)": await scenario(loaded, fixed_shedder),
        "shedder (gradient)": await scenario(loaded, gradient_shedder),
    }
    base_p99 = unloaded.p(0.99)
    rows: list[tuple[str, Callable[[Outcome], str]]] = [
        ("offered req/s", lambda o: f"{sum(o.offered.values()) / DURATION:.0f}"),
        ("goodput (% of capacity)", lambda o: f"{o.goodput():.1%}"),
        ("critical success", lambda o: f"{o.success('critical'):.2%}"),
        ("high success", lambda o: f"{o.success('high'):.2%}"),
        ("normal success", lambda o: f"{o.success('normal'):.2%}"),
        ("low success", lambda o: f"{o.success('low'):.2%}"),
        ("shed (fast 503)", lambda o: f"{o.shed}"),
        ("client timeouts", lambda o: f"{o.timeouts}"),
        ("wasted service work", lambda o: f"{o.wasted}"),
        ("p50 latency ms", lambda o: f"{o.p(0.50) * 1000:.1f}"),
        ("p99 latency ms", lambda o: f"{o.p(0.99) * 1000:.1f}"),
        ("p99 / unloaded p99", lambda o: f"{o.p(0.99) / base_p99:.2f}x"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"capacity C={C} x {SERVICE_TIME * 1000:.0f} ms = {CAPACITY:.0f} req/s; "
        f"offered {OVERLOAD:g}x for {DURATION:g} s; client timeout {CLIENT_TIMEOUT:g} s"
    )
    print(" " * width + "".join(f"{name:>20}" for name in columns))
    for name, cell in rows:
        print(f"{name:<{width}}" + "".join(f"{cell(o):>20}" for o in columns.values()))

    shed = columns["shedder (fixed)"]
    checks = [
        ("goodput >= 90% of capacity", shed.goodput() >= 0.90),
        ("critical and high success >= 99%", shed.success("critical", "high") >= 0.99),
        ("p99 of admitted <= 3x unloaded p99", shed.p(0.99) <= 3 * base_p99),
        (
            "without the shedder the service collapses",
            columns["no shedder"].goodput() < 0.5 and columns["no shedder"].timeouts > 0,
        ),
    ]
    print()
    for name, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
