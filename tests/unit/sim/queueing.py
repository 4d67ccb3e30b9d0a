"""Batch means and the operational laws, shared by the validation tests against theory.

A run is cut into ``BATCHES + 1`` equal intervals (its time series); the first is the
warm-up from an empty system and is dropped, and the means of the other 40 give a 99 %
confidence interval (Student's t, 39 degrees of freedom). The value a formula gives
must lie inside it, and the interval must be tight: half-width <= 2 % of the value.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

import pytest

from seawall import sim

BATCHES = 40
T_995_39 = 2.7079  # Student's t, 0.995 quantile, 39 degrees of freedom (batches - 1)


def interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, 99 % half-width) of batch means."""
    assert len(values) == BATCHES
    return statistics.fmean(values), T_995_39 * statistics.stdev(values) / math.sqrt(BATCHES)


def assert_matches(
    name: str, values: Sequence[float], expected: float, within: float = 0.02
) -> None:
    """The 99 % interval of ``values`` contains ``expected`` and is within ``within`` of it."""
    mean, half = interval(values)
    assert half <= within * expected, f"{name}: half-width {half / expected:.2%} > {within:.0%}"
    assert abs(mean - expected) <= half, f"{name}: {expected} outside {mean:.5f} +- {half:.5f}"


def batches(
    result: sim.Result, service: str, value: Callable[[sim.Interval], float]
) -> list[float]:
    """One value per batch of ``service``'s series, the warm-up batch dropped."""
    return [value(row) for row in result.services[service].series[1:]]


def run_open(
    service_time: sim.Distribution,
    rate: float,
    until: float,
    *,
    servers: int = 1,
    queue_limit: int | None = None,
    seed: int = 1,
) -> sim.Result:
    """One service named ``q`` under Poisson arrivals, cut into batches."""
    world = sim.World(seed=seed)
    service = world.service(
        "q", servers=servers, service_time=service_time, queue_limit=queue_limit
    )
    world.load(service, rate=rate)
    result = world.run(until=until, interval=until / (BATCHES + 1))
    assert_operational_laws(result)
    return result


def assert_operational_laws(result: sim.Result) -> None:
    """Little's law and the utilization law on every service of a run, to 1 %.

    Little: L = X * W, and on the queue alone Lq = X * Wq. Utilization: U = X * S / c,
    where S is the time a completed request held a server (its response less its wait
    in the queue). They hold for any arrivals and any service times, so a miss is
    bookkeeping, not randomness.
    """
    for stats in result.services.values():
        if not stats.completed:
            continue
        assert stats.mean_in_system == pytest.approx(
            stats.throughput * stats.mean_response, rel=0.01
        ), f"Little's law on {stats.name}"
        assert stats.mean_queue_length == pytest.approx(
            stats.throughput * stats.mean_wait, rel=0.01, abs=1e-9
        ), f"Little's law on the queue of {stats.name}"
        held = stats.mean_response - stats.mean_wait
        assert stats.utilization == pytest.approx(
            stats.throughput * held / stats.servers, rel=0.01
        ), f"the utilization law on {stats.name}"


def erlang_b(servers: int, offered: float) -> float:
    """Probability that an arrival finds every server of M/M/c/c busy (Erlang B)."""
    blocked = 1.0
    for k in range(1, servers + 1):
        blocked = offered * blocked / (k + offered * blocked)
    return blocked


def mmck(servers: int, places: int, offered: float) -> list[float]:
    """The stationary distribution p_0..p_K of M/M/c/K with offered load a = lambda/mu."""
    weights = [
        offered**n / math.factorial(n)
        if n <= servers
        else offered**n / (math.factorial(servers) * servers ** (n - servers))
        for n in range(places + 1)
    ]
    total = math.fsum(weights)
    return [weight / total for weight in weights]
