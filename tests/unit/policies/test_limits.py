"""Adaptive concurrency limits on a FakeClock, against a simulated queueing service."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall.testing import FakeClock

SERVICE_TIME = 0.050


def queueing_rtt(inflight: int, capacity: int) -> float:
    """A service with ``capacity`` workers: beyond it, calls queue and latency grows."""
    return SERVICE_TIME * max(1.0, inflight / capacity)


def run_saturated(
    limit: seawall.Limit, clock: FakeClock, capacity: int, seconds: float, per_second: int = 40
) -> list[int]:
    """Demand always fills the limit; feed ``per_second`` samples a second; limits seen."""
    seen = []
    for _ in range(int(seconds * per_second)):
        clock.advance(1.0 / per_second)
        inflight = limit.limit
        limit.update(
            now=clock.now(), rtt=queueing_rtt(inflight, capacity), inflight=inflight, dropped=False
        )
        seen.append(limit.limit)
    return seen


def test_fixed_limit_never_moves() -> None:
    limit = seawall.FixedLimit(7)
    assert limit.update(now=1.0, rtt=100.0, inflight=7, dropped=True) == 7
    assert limit.limit == limit.max_limit == 7


@pytest.mark.parametrize(
    "make",
    [
        lambda: seawall.FixedLimit(0),
        lambda: seawall.AIMDLimit(initial=0),
        lambda: seawall.AIMDLimit(min_limit=10, max_limit=5, initial=7),
        lambda: seawall.AIMDLimit(backoff_ratio=1.5),
        lambda: seawall.GradientLimit(initial=500, max_limit=200),
        lambda: seawall.GradientLimit(tolerance=0.5),
        lambda: seawall.GradientLimit(window=0.0),
        lambda: seawall.GradientLimit(smoothing=float("nan")),
    ],
)
def test_bad_limit_parameters_raise_config_error(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(seawall.ConfigError):
        make()


def test_gradient_limit_falls_when_latency_rises_with_queueing_and_recovers() -> None:
    clock = FakeClock()
    limit = seawall.GradientLimit(initial=50, min_limit=2, max_limit=400, window=1.0)
    # A healthy service of 50 workers: the limit settles a little above 50, where the
    # queueing latency reaches the tolerance.
    healthy = run_saturated(limit, clock, capacity=50, seconds=60)
    assert 50 <= healthy[-1] <= 100
    before = limit.limit
    # Capacity drops to 10 workers: latency rises with queueing, the limit must fall.
    degraded = run_saturated(limit, clock, capacity=10, seconds=60)
    assert degraded[-1] < before / 2
    assert degraded[-1] <= 20  # at most twice the new capacity
    low = limit.limit
    # Capacity returns: latency falls back to normal and the limit climbs again.
    recovered = run_saturated(limit, clock, capacity=50, seconds=120)
    assert recovered[-1] >= 50 > low


def test_gradient_limit_does_not_grow_while_underused() -> None:
    clock = FakeClock()
    limit = seawall.GradientLimit(initial=40, window=1.0)
    for _ in range(400):
        clock.advance(0.025)
        limit.update(now=clock.now(), rtt=SERVICE_TIME, inflight=3, dropped=False)
    assert limit.limit == 40


def test_gradient_limit_backs_off_on_drops() -> None:
    clock = FakeClock()
    limit = seawall.GradientLimit(initial=40, window=1.0)
    for _ in range(400):
        clock.advance(0.025)
        limit.update(now=clock.now(), rtt=SERVICE_TIME, inflight=40, dropped=True)
        limit.update(now=clock.now(), rtt=SERVICE_TIME, inflight=40, dropped=False)
    assert limit.limit < 40


def test_aimd_limit_falls_when_latency_rises_with_queueing_and_recovers() -> None:
    clock = FakeClock()
    limit = seawall.AIMDLimit(
        initial=20, min_limit=2, max_limit=400, latency_threshold=2 * SERVICE_TIME
    )
    healthy = run_saturated(limit, clock, capacity=50, seconds=120)
    # Grows until queueing doubles latency (100 in flight), then saws around it.
    assert 80 <= healthy[-1] <= 100
    before = limit.limit
    degraded = run_saturated(limit, clock, capacity=10, seconds=60)
    assert degraded[-1] <= 20 < before
    low = limit.limit
    recovered = run_saturated(limit, clock, capacity=50, seconds=240)
    assert recovered[-1] >= 50 > low


def test_aimd_limit_decreases_once_per_round_trip_on_a_burst_of_drops() -> None:
    clock = FakeClock()
    limit = seawall.AIMDLimit(initial=100, backoff_ratio=0.5)
    for _ in range(20):
        limit.update(now=clock.now(), rtt=1.0, inflight=100, dropped=True)
    assert limit.limit == 50  # one congestion event, not twenty
    clock.advance(1.0)
    limit.update(now=clock.now(), rtt=1.0, inflight=100, dropped=True)
    assert limit.limit == 25


samples = st.lists(
    st.tuples(
        st.floats(0.0, 5.0),  # clock advance
        st.floats(0.0, 20.0),  # rtt
        st.integers(0, 1000),  # in flight
        st.booleans(),  # dropped
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(samples=samples, min_limit=st.integers(1, 20), span=st.integers(0, 200))
def test_adaptive_limits_never_leave_their_bounds(
    samples: list[tuple[float, float, int, bool]], min_limit: int, span: int
) -> None:
    max_limit = min_limit + span
    clock = FakeClock()
    limits: list[seawall.Limit] = [
        seawall.AIMDLimit(initial=min_limit, min_limit=min_limit, max_limit=max_limit),
        seawall.GradientLimit(
            initial=max_limit, min_limit=min_limit, max_limit=max_limit, min_samples=1
        ),
    ]
    for advance, rtt, inflight, dropped in samples:
        clock.advance(advance)
        for limit in limits:
            value = limit.update(now=clock.now(), rtt=rtt, inflight=inflight, dropped=dropped)
            assert min_limit <= value == limit.limit <= max_limit
