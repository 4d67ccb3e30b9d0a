"""The simulator against queueing theory: batch means, fixed seeds, 99 % intervals.

Each run is cut into equal batches (the time-series intervals); the first batch is
dropped as the warm-up from an empty system, and the other batch means give a 99 %
confidence interval (Student's t). The interval must contain the value the formula
gives, and be tight: half-width <= 2 % of it. Little's law, L = lambda_eff * W, is
checked on every service of every run here to 1 %.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import pytest

from seawall import sim

BATCHES = 40
T_995_39 = 2.7079  # Student's t, 0.995 quantile, 39 degrees of freedom (batches - 1)


def interval(values: list[float]) -> tuple[float, float]:
    """(mean, 99 % half-width) of batch means."""
    assert len(values) == BATCHES
    return statistics.fmean(values), T_995_39 * statistics.stdev(values) / math.sqrt(len(values))


def assert_matches(name: str, values: list[float], expected: float, within: float = 0.02) -> None:
    mean, half = interval(values)
    assert half <= within * expected, f"{name}: half-width {half / expected:.2%} > {within:.0%}"
    assert abs(mean - expected) <= half, f"{name}: {expected} outside {mean:.5f} +- {half:.5f}"


def run_mmc(
    rate: float, servers: int, until: float, *, queue_limit: int | None = None, seed: int = 1
) -> sim.Result:
    world = sim.World(seed=seed)
    service = world.service(
        "q", servers=servers, service_time=sim.exponential(mean=1.0), queue_limit=queue_limit
    )
    world.load(service, rate=rate)
    result = world.run(until=until, interval=until / (BATCHES + 1))
    assert_littles_law(result)
    return result


def assert_littles_law(result: sim.Result) -> None:
    for stats in result.services.values():
        assert stats.mean_in_system == pytest.approx(
            stats.throughput * stats.mean_response, rel=0.01
        )


def batches(result: sim.Result, value: Callable[[sim.Interval], float]) -> list[float]:
    return [value(row) for row in result.services["q"].series[1:]]


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    bottom = sum(offered**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def mmck_blocking(servers: int, places: int, offered: float) -> float:
    """Probability that an arrival finds all K places of M/M/c/K taken."""
    weights = [
        offered**n / math.factorial(n)
        if n <= servers
        else offered**n / (math.factorial(servers) * servers ** (n - servers))
        for n in range(places + 1)
    ]
    return weights[-1] / sum(weights)


def test_formulas_give_the_published_values() -> None:
    assert erlang_c(10, 8.0) == pytest.approx(0.40918, abs=5e-6)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    # M/M/1/K: (1 - rho) rho^K / (1 - rho^(K+1))
    assert mmck_blocking(1, 3, 0.5) == pytest.approx(0.5 * 0.125 / (1 - 0.0625))


def test_mm1_waits_responses_and_occupancy() -> None:
    result = run_mmc(0.5, 1, 1_400_000.0)
    assert_matches("Wq", batches(result, lambda row: row.mean_wait), 1.000)
    assert_matches("W", batches(result, lambda row: row.mean_response), 2.000)
    assert_matches("L", batches(result, lambda row: row.mean_in_system), 1.000)


def test_mm10_probability_of_waiting_and_wait() -> None:
    result = run_mmc(8.0, 10, 1_100_000.0)
    p_wait = erlang_c(10, 8.0)
    assert_matches("P(wait)", batches(result, lambda row: row.delayed / row.goodput), p_wait)
    assert_matches("Wq", batches(result, lambda row: row.mean_wait), p_wait / (10 - 8.0))


def test_mmck_blocking_probability() -> None:
    # M/M/2/5 at lambda = 2, mu = 1: two servers, three waiting places.
    result = run_mmc(2.0, 2, 300_000.0, queue_limit=3)
    blocked = mmck_blocking(2, 5, 2.0)
    assert_matches("P(block)", batches(result, lambda row: row.errors / row.offered), blocked)
    stats = result.services["q"]
    assert stats.arrivals == stats.admitted + stats.rejected
