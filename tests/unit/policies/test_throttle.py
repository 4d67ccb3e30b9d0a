"""Client-side adaptive throttling (SRE book) on a FakeClock."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

import seawall
from seawall import CallRejected
from seawall.policies._throttle import ThrottleWindow
from seawall.testing import FakeClock, capture_events


class Overloaded(Exception):
    """The backend refused the request (a 503 from an overloaded server)."""


def test_the_rejection_probability_follows_the_sre_formula() -> None:
    window = ThrottleWindow(k=2.0, window=120.0, buckets=120)
    for _ in range(100):
        assert window.request(0.0, draw=0.99)
    for _ in range(10):
        window.accept(0.0)
    assert window.probability(0.0) == pytest.approx((100 - 2 * 10) / 101)
    # Two minutes later the window has slid past those counts.
    assert window.probability(120.5) == 0.0
    assert window.requests == 0


def test_a_healthy_backend_is_never_throttled() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(1))
    for _ in range(1000):
        clock.advance(0.01)
        assert throttle.call(lambda: "ok") == "ok"
    assert throttle.statistics().throttled == 0


def simulate(
    throttle: seawall.AdaptiveThrottle,
    clock: FakeClock,
    accept_ratio: float,
    seconds: float,
    rate: float,
    rng: random.Random,
) -> tuple[int, int, int]:
    """Offer ``rate`` requests/s; count (offered, reached the backend, accepted)."""
    offered = reached = accepted = 0

    def backend() -> str:
        nonlocal reached, accepted
        reached += 1
        if rng.random() < accept_ratio:
            accepted += 1
            return "ok"
        raise seawall.Rejected("backend", "overloaded")

    for _ in range(int(seconds * rate)):
        clock.advance(1.0 / rate)
        offered += 1
        with contextlib.suppress(seawall.Rejected):
            throttle.call(backend)
    return offered, reached, accepted


def simulate_capacity(
    throttle: seawall.AdaptiveThrottle, clock: FakeClock, per_second: int, seconds: int, rate: int
) -> tuple[int, int, int]:
    """A backend that accepts ``per_second`` requests each second and refuses the rest."""
    offered = reached = accepted = 0
    for _ in range(seconds):
        room = per_second

        def backend() -> str:
            nonlocal reached, accepted, room
            reached += 1
            if room > 0:
                room -= 1
                accepted += 1
                return "ok"
            raise seawall.Rejected("backend", "overloaded")

        for _ in range(rate):
            clock.advance(1.0 / rate)
            offered += 1
            with contextlib.suppress(seawall.Rejected):
                throttle.call(backend)
    return offered, reached, accepted


def test_against_a_backend_with_capacity_for_10_percent_it_sends_about_k_times_the_accepts() -> (
    None
):
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(3))
    simulate_capacity(throttle, clock, per_second=10, seconds=240, rate=100)  # steady state
    for _ in range(3):  # three consecutive two-minute windows
        offered, reached, accepted = simulate_capacity(
            throttle, clock, per_second=10, seconds=120, rate=100
        )
        assert offered == 12_000
        assert accepted >= 0.95 * 1200  # the backend stays busy with useful work...
        # ...and sees about K x accepts (+ a small constant), not all 12,000 requests.
        assert reached <= 2 * accepted * 1.05 + 20
        assert reached >= 2 * accepted * 0.9


def test_against_a_backend_accepting_10_percent_it_sends_about_k_times_the_accepts() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(3))
    rng = random.Random(4)
    simulate(throttle, clock, 0.10, seconds=240.0, rate=100.0, rng=rng)  # reach steady state
    for _ in range(3):  # three consecutive two-minute windows
        offered, reached, accepted = simulate(
            throttle, clock, 0.10, seconds=120.0, rate=100.0, rng=rng
        )
        assert offered == 12_000
        # The backend sees at most about K x accepts plus a small constant per window...
        assert reached <= 2 * accepted + 0.05 * reached + 20
        # ...instead of all 12,000 requests: most are refused locally, for free.
        assert reached < 0.3 * offered


def test_the_throttle_lets_traffic_back_when_the_backend_recovers() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(5))
    rng = random.Random(6)
    simulate(throttle, clock, 0.0, seconds=120.0, rate=50.0, rng=rng)
    assert throttle.statistics().rejection_probability > 0.99
    # The book's formula only probes with a trickle, so reopening takes minutes.
    simulate(throttle, clock, 1.0, seconds=900.0, rate=50.0, rng=rng)
    offered, reached, _ = simulate(throttle, clock, 1.0, seconds=10.0, rate=50.0, rng=rng)
    assert reached == offered


def test_a_capped_rejection_probability_reopens_within_about_one_window() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle(
        "api", clock=clock, rng=random.Random(5), max_rejection_probability=0.8
    )
    rng = random.Random(6)
    simulate(throttle, clock, 0.0, seconds=120.0, rate=50.0, rng=rng)
    assert throttle.statistics().rejection_probability == 0.8
    simulate(throttle, clock, 1.0, seconds=180.0, rate=50.0, rng=rng)
    offered, reached, _ = simulate(throttle, clock, 1.0, seconds=10.0, rate=50.0, rng=rng)
    assert reached == offered


def test_local_rejection_raises_load_shed_and_emits_an_event() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(7))

    async def refused() -> str:
        raise TimeoutError

    async def main() -> list[BaseException]:
        errors: list[BaseException] = []
        for _ in range(200):
            try:
                await seawall.Pipeline(throttle).acall(refused)
            except (TimeoutError, seawall.LoadShed) as exc:
                errors.append(exc)
        return errors

    with capture_events() as events, seawall.priority("low"):
        errors = asyncio.run(main())
    shed = [e for e in errors if isinstance(e, seawall.LoadShed)]
    assert len(shed) > 100
    assert all(e.priority == "low" for e in shed)
    rejected = [e for e in events if isinstance(e, CallRejected)]
    assert len(rejected) == len(shed) == throttle.statistics().throttled
    assert {e.policy for e in rejected} == {"adaptive_throttle"}


def test_application_errors_count_as_accepted() -> None:
    clock = FakeClock()
    throttle = seawall.AdaptiveThrottle("api", clock=clock, rng=random.Random(8))

    def not_found() -> str:
        raise KeyError("no such user")

    for _ in range(500):
        with pytest.raises(KeyError):
            throttle.call(not_found)
    stats = throttle.statistics()
    assert stats.accepts == stats.requests == 500
    assert stats.rejection_probability == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0.5},
        {"window": 0.0},
        {"buckets": 0},
        {"on": "TimeoutError"},
        {"max_rejection_probability": 0.0},
    ],
)
def test_bad_parameters_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.AdaptiveThrottle("api", **kwargs)  # type: ignore[arg-type]
