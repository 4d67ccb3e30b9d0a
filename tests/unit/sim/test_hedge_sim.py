"""Hedged requests in the simulator: the tail they cut, and the load they add.

The Tail at Scale's two cases, on virtual time with the real Hedge: a bimodal backend
(10 ms 99 % of the time, 1 s 1 %) hedged at 20 ms, and a lognormal one (median 10 ms,
sigma 1.5) hedged at its observed 95th percentile; and a backend under 3x overload,
where the hedging budget alone keeps hedges to its limit.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import seawall
from seawall import sim


class Timed:
    """A caller's view: the response time of every answered operation."""

    def __init__(self, world: sim.World, hedge: seawall.Hedge | None) -> None:
        self.world = world
        self.hedge = hedge
        self.latencies: list[float] = []

    async def acall(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        sent = self.world.now
        result = await (fn(*args) if self.hedge is None else self.hedge.acall(fn, *args))
        self.latencies.append(self.world.now - sent)
        return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def run(
    service_time: sim.Distribution,
    delay: float | str | None,
    *,
    rate: float = 1000.0,
    until: float = 20.0,
    servers: int = 10_000,
    queue_limit: int | None = None,
    budget: Callable[[sim.World], seawall.RetryBudget] | None = None,
) -> tuple[Timed, sim.Service]:
    world = sim.World(seed=1)
    backend = world.service(
        "backend", servers=servers, service_time=service_time, queue_limit=queue_limit
    )
    callers: list[Timed] = []

    def caller(world: sim.World) -> Timed:
        hedge = None
        if delay is not None:
            hedge = seawall.Hedge(
                delay,
                clock=world.clock,
                rng=world.rng,
                budget=False if budget is None else budget(world),
            )
        callers.append(Timed(world, hedge))
        return callers[-1]

    world.load(backend, rate=rate, policy=caller)
    world.run(until=until)
    return callers[0], backend


def extra_load(caller: Timed, backend: sim.Service) -> float:
    return backend.arrivals / len(caller.latencies) - 1.0


def test_a_20ms_hedge_on_a_1_percent_1s_tail_gives_p999_near_30ms_for_1_percent_more() -> None:
    bimodal = sim.bimodal(0.010, 1.0, 0.01)
    plain, _ = run(bimodal, None)
    hedged, backend = run(bimodal, 0.020)
    assert percentile(plain.latencies, 99.9) == 1.0
    assert abs(percentile(hedged.latencies, 99.9) - 0.030) <= 0.003
    assert 0.005 <= extra_load(hedged, backend) <= 0.015
    assert hedged.hedge is not None
    assert hedged.hedge.hedges_won > 0


def test_a_p95_hedge_on_lognormal_latency_cuts_p999_4x_for_at_most_6_percent_more() -> None:
    median, sigma = 0.010, 1.5
    lognormal = sim.lognormal(median * math.exp(sigma * sigma / 2), sigma)
    plain, _ = run(lognormal, None, until=40.0)
    hedged, backend = run(lognormal, "p95", until=40.0)
    gain = percentile(plain.latencies, 99.9) / percentile(hedged.latencies, 99.9)
    assert gain >= 4.0
    assert extra_load(hedged, backend) <= 0.06
    assert hedged.hedge is not None
    # The delay it converged to is the 95th percentile of the backend's latency.
    assert abs(hedged.hedge.current_delay() / (median * math.exp(1.645 * sigma)) - 1) < 0.2


def test_under_3x_overload_the_budget_keeps_hedges_to_its_limit() -> None:
    def budget(world: sim.World) -> seawall.RetryBudget:
        return seawall.RetryBudget(ratio=0.1, min_per_second=1.0, window=1.0, clock=world.clock)

    overloaded = {
        "service_time": sim.exponential(mean=0.010),
        "servers": 10,  # 1,000 requests/s at most, offered 3,000/s
        "queue_limit": 50,
        "rate": 3000.0,
        "until": 5.0,
    }
    unbounded, _ = run(delay=0.020, **overloaded)
    budgeted, _ = run(delay=0.020, budget=budget, **overloaded)
    assert unbounded.hedge is not None
    assert budgeted.hedge is not None
    # Without a budget nearly every call is hedged: the overload doubles.
    assert unbounded.hedge.attempts_hedge > 0.9 * unbounded.hedge.calls
    # With it: 10 % of the calls plus the floor of 1/s, and the rest refused.
    limit = 0.1 * budgeted.hedge.calls + 1.0 * 5.0 + 1
    assert budgeted.hedge.attempts_hedge <= limit
    assert budgeted.hedge.attempts_hedge >= 0.9 * (limit - 6)
    assert budgeted.hedge.hedges_budget_refused > 0.5 * budgeted.hedge.calls
