"""The simulator against more of queueing theory: finite queues, general service, networks.

Batch means with fixed seeds (see ``queueing.py``): every 99 % interval must contain the
formula's value and have a half-width of at most 2 % of it; Little's law and the
utilization law are checked on every service of every run to 1 %.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from seawall import sim
from tests.unit.sim.queueing import (
    BATCHES,
    assert_matches,
    assert_operational_laws,
    batches,
    erlang_b,
    mmck,
    run_open,
)


def test_the_formulas_give_the_published_values() -> None:
    # Erlang B tables: B(5, 4) = 0.19907, B(10, 8) = 0.12166; M/M/1/K from its closed form.
    assert erlang_b(5, 4.0) == pytest.approx(0.19907, abs=5e-6)
    assert erlang_b(10, 8.0) == pytest.approx(0.12166, abs=5e-6)
    assert mmck(1, 3, 0.5)[-1] == pytest.approx(0.5**3 * 0.5 / (1 - 0.5**4))
    assert mmck(5, 5, 4.0)[-1] == pytest.approx(erlang_b(5, 4.0))


@pytest.mark.parametrize(
    "service_time",
    [
        sim.exponential(1.0),
        # Erlang's loss formula is insensitive to the service-time distribution: only
        # its mean counts. A bookkeeping slip that happens to suit exponential times
        # would show here.
        sim.lognormal(1.0, 0.75),
        sim.bimodal(0.5, 2.5, slow_fraction=0.25),
    ],
    ids=["exponential", "lognormal", "bimodal"],
)
def test_erlang_b_blocking_without_a_queue(service_time: sim.Distribution) -> None:
    # M/G/5/5, lambda = 4, E[S] = 1: a loss system, K = c.
    result = run_open(service_time, 4.0, 100_000.0, servers=5, queue_limit=0)
    blocked = erlang_b(5, 4.0)
    assert_matches("P(block)", batches(result, "q", lambda row: row.errors / row.offered), blocked)
    assert_matches("L", batches(result, "q", lambda row: row.mean_in_system), 4.0 * (1 - blocked))
    stats = result.services["q"]
    assert stats.delayed == 0  # nobody waits: there is no queue
    assert stats.arrivals == stats.admitted + stats.rejected


def test_mmck_with_a_finite_queue_blocks_and_serves_as_the_formula_says() -> None:
    # M/M/3/7, lambda = 3, mu = 1: three servers, four waiting places.
    servers, places, rate = 3, 7, 3.0
    p = mmck(servers, places, rate)
    blocked = p[-1]
    throughput = rate * (1 - blocked)
    in_system = math.fsum(n * pn for n, pn in enumerate(p))
    waiting = math.fsum((n - servers) * pn for n, pn in enumerate(p) if n > servers)
    result = run_open(sim.exponential(1.0), rate, 260_000.0, servers=servers, queue_limit=4)
    width = result.services["q"].series[0].end
    assert_matches("P(K)", batches(result, "q", lambda row: row.errors / row.offered), blocked)
    assert_matches(
        "X = lambda (1 - P(K))", batches(result, "q", lambda row: row.goodput / width), throughput
    )
    assert_matches("L", batches(result, "q", lambda row: row.mean_in_system), in_system)
    assert_matches("Lq", batches(result, "q", lambda row: row.mean_queue_length), waiting)
    assert_matches("W", batches(result, "q", lambda row: row.mean_response), in_system / throughput)
    assert_matches("Wq", batches(result, "q", lambda row: row.mean_wait), waiting / throughput)
    # The utilization law with the formula's throughput: U = X * S / c.
    assert_matches(
        "U",
        batches(result, "q", lambda row: (row.mean_in_system - row.mean_queue_length) / servers),
        throughput * 1.0 / servers,
    )


def pollaczek_khinchine(rate: float, service_time: sim.Distribution) -> float:
    """Wq of M/G/1: lambda E[S^2] / (2 (1 - rho))."""
    second_moment = service_time.variance + service_time.mean**2
    return rate * second_moment / (2 * (1 - rate * service_time.mean))


@pytest.mark.parametrize(
    ("service_time", "until"),
    [
        (sim.deterministic(1.0), 500_000.0),  # M/D/1: Wq = rho S / (2 (1 - rho)) = 0.5
        (sim.lognormal(1.0, 0.75), 1_400_000.0),
        (sim.bimodal(0.5, 2.5, slow_fraction=0.25), 1_200_000.0),
    ],
    ids=["deterministic", "lognormal", "bimodal"],
)
def test_mg1_waits_as_pollaczek_khinchine_says(
    service_time: sim.Distribution, until: float
) -> None:
    rate = 0.5  # rho = 0.5: every service time here has mean 1
    expected = pollaczek_khinchine(rate, service_time)
    result = run_open(service_time, rate, until)
    assert_matches("Wq", batches(result, "q", lambda row: row.mean_wait), expected)
    # The utilization law with the distribution's own mean: U = X * E[S].
    stats = result.services["q"]
    assert stats.utilization == pytest.approx(stats.throughput * service_time.mean, rel=0.01)


def test_pollaczek_khinchine_of_exponential_times_is_the_mm1_wait() -> None:
    assert pollaczek_khinchine(0.5, sim.exponential(1.0)) == pytest.approx(1.0)
    assert pollaczek_khinchine(0.5, sim.deterministic(1.0)) == pytest.approx(0.5)


class Then:
    """A caller that sends each request to its target, then to ``after``: a tandem line.

    Unlike ``calls=``, the first service's server is free as soon as its work is done,
    so the two queues are a Jackson network, not one server holding another's.
    """

    def __init__(self, after: sim.Service) -> None:
        self.after = after

    async def acall(self, send: Any, target: sim.Service) -> None:
        await send(target)
        await send(self.after)


def test_two_mm1_in_series_is_a_jackson_network() -> None:
    # lambda = 0.5 through mu1 = 1 then mu2 = 1.25: by Burke's theorem the first queue's
    # departures are Poisson again, so each stage is an M/M/1 and W = W1 + W2.
    world = sim.World(seed=3)
    first = world.service("first", service_time=sim.exponential(1.0))
    second = world.service("second", service_time=sim.exponential(0.8))
    world.load(first, rate=0.5, policy=lambda w: Then(second))
    until = 400_000.0
    result = world.run(until=until, interval=until / (BATCHES + 1))
    assert_operational_laws(result)
    w1, w2 = 1 / (1.0 - 0.5), 1 / (1.25 - 0.5)
    assert_matches("W1", batches(result, "first", lambda row: row.mean_response), w1)
    assert_matches("W2", batches(result, "second", lambda row: row.mean_response), w2)
    ends = [
        a.mean_response + b.mean_response
        for a, b in zip(
            result.services["first"].series, result.services["second"].series, strict=True
        )
    ]
    assert_matches("W = W1 + W2", ends[1:], w1 + w2)
    # What the caller saw end to end is the sum of the stages, request by request.
    line = result.clients["load"]
    stages = result.services["first"].mean_response + result.services["second"].mean_response
    assert line.mean_response == pytest.approx(stages, rel=0.001)
    assert result.services["second"].arrivals == pytest.approx(line.requests, abs=5)


def test_response_time_percentiles_of_mm1_are_the_exponential_quantiles() -> None:
    # M/M/1's response time is exponential with rate mu - lambda.
    result = run_open(sim.exponential(1.0), 0.5, 600_000.0, seed=2)
    assert_matches("p50", batches(result, "q", lambda row: row.p50), math.log(2) / 0.5)
    # A 1-in-100 tail from about 7,000 responses per batch is a noisier estimate than a
    # mean: its interval is held to 5 %.
    assert_matches(
        "p99", batches(result, "q", lambda row: row.p99), math.log(100) / 0.5, within=0.05
    )


def test_a_calling_service_holds_its_server_for_its_work_and_its_call() -> None:
    # A thread per request: the front's response is its own 10 ms plus the M/M/1 answer
    # of the database it calls (lambda = 0.25, mu = 1: W = 4/3), and its utilization law
    # counts the whole hold, call included.
    world = sim.World(seed=5)
    db = world.service("db", service_time=sim.exponential(1.0))
    front = world.service("front", servers=50, service_time=sim.deterministic(0.01), calls=db)
    world.load(front, rate=0.25)
    until = 260_000.0
    result = world.run(until=until, interval=until / (BATCHES + 1))
    assert_operational_laws(result)
    w_db = 1 / (1.0 - 0.25)
    assert_matches("W db", batches(result, "db", lambda row: row.mean_response), w_db)
    assert_matches("W front", batches(result, "front", lambda row: row.mean_response), 0.01 + w_db)
