"""Closed-loop clients against theory: the machine-repairman model and the response time law.

N clients each think for Z, send one request to a single exponential server and wait
for the answer (M/M/1//N). Its exact solution: p0 = 1 / sum_n N!/(N-n)! (S/Z)^n,
X = (1 - p0) / S, and the interactive response time law R = N/X - Z. Batch means with
fixed seeds, as in ``queueing.py``.
"""

from __future__ import annotations

import math

import pytest

import seawall
from seawall import sim
from tests.unit.sim.queueing import BATCHES, assert_matches, assert_operational_laws, batches


def repairman(clients: int, think: float, service: float) -> tuple[float, float]:
    """(X, R) of M/M/1//N: throughput and mean response time, exactly."""
    terms = [
        math.factorial(clients) / math.factorial(clients - n) * (service / think) ** n
        for n in range(clients + 1)
    ]
    idle = 1 / math.fsum(terms)
    throughput = (1 - idle) / service
    return throughput, clients / throughput - think


def test_the_repairman_formula_gives_the_textbook_values() -> None:
    # One client never queues: R = S, X = 1 / (Z + S).
    assert repairman(1, 4.0, 1.0) == pytest.approx((0.2, 1.0))
    # N = 2, S/Z = 1/4: p0 = 1 / (1 + 0.5 + 0.125) = 8/13.
    throughput, response = repairman(2, 4.0, 1.0)
    assert throughput == pytest.approx(5 / 13)
    assert response == pytest.approx(2 * 13 / 5 - 4)


def closed_loop(
    clients: int, think: sim.Distribution | float, until: float, *, policy: bool = False
) -> sim.Result:
    world = sim.World(seed=clients)
    server = world.service("q", service_time=sim.exponential(1.0))
    world.clients(
        clients,
        think_time=think,
        target=server,
        policy=(lambda w: seawall.Timeout(1_000.0, clock=w.clock)) if policy else None,
    )
    result = world.run(until=until, interval=until / (BATCHES + 1))
    assert_operational_laws(result)
    return result


@pytest.mark.parametrize("clients", [2, 5])
def test_machine_repairman_throughput_and_response(clients: int) -> None:
    throughput, response = repairman(clients, 4.0, 1.0)
    result = closed_loop(clients, sim.exponential(4.0), 100_000.0)
    width = result.services["q"].series[0].end
    assert_matches("X", batches(result, "q", lambda row: row.goodput / width), throughput)
    assert_matches("R", batches(result, "q", lambda row: row.mean_response), response)


def test_think_time_distribution_does_not_change_the_answer_and_the_law_holds() -> None:
    # The clients are an infinite-server station of a closed product-form network, whose
    # solution depends only on the mean think time: fixed 4 s thinks give the same X and
    # R. The requests go through a real policy, so its await path is on the clock too.
    clients = 5
    throughput, response = repairman(clients, 4.0, 1.0)
    result = closed_loop(clients, 4.0, 100_000.0, policy=True)
    width = result.services["q"].series[0].end
    assert_matches("X", batches(result, "q", lambda row: row.goodput / width), throughput)
    assert_matches("R", batches(result, "q", lambda row: row.mean_response), response)
    # The interactive response time law on what the clients saw, with their fixed Z.
    seen = result.clients["clients"]
    x = result.services["q"].throughput
    assert seen.mean_response == pytest.approx(clients / x - 4.0, rel=0.005)
    assert seen.failed == 0


def test_fixed_times_give_the_exact_schedule() -> None:
    # Three clients send at once at 0 to one server taking 0.5 s; each thinks 1 s after
    # its answer. They are answered at 0.5, 1.0 and 1.5, come back at 1.5, 2.0 and 2.5,
    # and from then on each arrives as the server frees: every response is 0.5 s and the
    # server never idles. By 14.9 s: 3 + 26 answered (at 2.0, 2.5, ..., 14.5).
    world = sim.World(seed=0)
    server = world.service("q", service_time=sim.deterministic(0.5))
    world.clients(3, think_time=1.0, target=server, start=0.0)
    result = world.run(until=14.9)
    stats = result.services["q"]
    assert stats.completed == 29
    assert stats.mean_response == pytest.approx((0.5 + 1.0 + 1.5 + 26 * 0.5) / 29)
    assert stats.mean_wait == pytest.approx((0.5 + 1.0) / 29)
    assert stats.utilization == pytest.approx(1.0)
    assert result.clients["clients"].requests == 3 + 27  # the one sent at 14.5 is in service
