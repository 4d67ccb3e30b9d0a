"""seawall's real Retry and RetryBudget on virtual time, against the arithmetic of retries.

N attempts against a dependency that fails each call independently with probability p
make 1 + p + ... + p^(N-1) = (1 - p^N) / (1 - p) calls per request and succeed with
probability 1 - p^N. A retry budget of ratio r caps retries at r times the requests, so
against a dependency that fails every call a busy caller settles at 1 + r calls per
request, whatever its attempts allow. Batch means with fixed seeds, as in
``queueing.py``; the code under test is the policies themselves, not a model of them.
"""

from __future__ import annotations

from typing import Any

import pytest

import seawall
from seawall import sim
from tests.unit.sim.queueing import assert_matches, assert_operational_laws


def retried_load(
    failure: float, policy: Any, *, rate: float, until: float, interval: float
) -> sim.Result:
    """Open-loop requests through one policy to a fast leaf failing at ``failure``."""
    world = sim.World(seed=4)
    leaf = world.service(
        "leaf", servers=100, service_time=sim.deterministic(0.001), error_rate=failure
    )
    world.load(leaf, rate=rate, policy=policy)
    result = world.run(until=until, interval=interval)
    assert_operational_laws(result)
    return result


def per_batch(result: sim.Result) -> tuple[list[float], list[float]]:
    """Leaf calls per request sent, and the share of answered requests that succeeded."""
    sent = result.clients["load"].series[1:]
    calls = result.services["leaf"].series[1:]
    amplification = [leaf.offered / row.sent for leaf, row in zip(calls, sent, strict=True)]
    success = [row.succeeded / (row.succeeded + row.failed) for row in sent]
    return amplification, success


@pytest.mark.parametrize(
    ("attempts", "failure"),
    [(2, 0.3), (3, 0.5), (4, 0.5), (5, 0.2), (4, 0.8)],
)
def test_attempts_against_independent_failure(attempts: int, failure: float) -> None:
    def policy(world: sim.World) -> seawall.Retry:
        return seawall.Retry(
            attempts, backoff=seawall.Backoff.constant(0.0), clock=world.clock, rng=world.rng
        )

    result = retried_load(failure, policy, rate=200.0, until=164.0, interval=4.0)
    amplification, success = per_batch(result)
    assert_matches("calls per request", amplification, (1 - failure**attempts) / (1 - failure))
    assert_matches("success", success, 1 - failure**attempts)


@pytest.mark.parametrize("ratio", [0.1, 0.5, 1.5])
def test_a_budget_caps_calls_per_request_at_one_plus_its_ratio(ratio: float) -> None:
    # The ratio alone: no floor, no failure reserve. Three attempts would make 3 calls
    # per request against a dead leaf; the budget allows 1 + ratio, in steady state
    # (after the first window, over which its deposits build up).
    def policy(world: sim.World) -> seawall.Retry:
        budget = seawall.RetryBudget(ratio, min_per_second=0.0, max_tokens=None, clock=world.clock)
        return seawall.Retry(
            3,
            backoff=seawall.Backoff.constant(0.0),
            budget=budget,
            clock=world.clock,
            rng=world.rng,
        )

    result = retried_load(1.0, policy, rate=50.0, until=210.0, interval=10.0)
    amplification, success = per_batch(result)
    assert max(success) == 0.0
    # A budget is a deterministic cap: each window's figure, not only their mean, is 1 + r.
    for window in amplification:
        assert window == pytest.approx(1 + ratio, rel=0.005)
