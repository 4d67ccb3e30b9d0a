"""CircuitBreaker on a FakeClock: thresholds, windows, half-open probes, manual states."""

from __future__ import annotations

import asyncio
import threading

import pytest

import seawall
from seawall.testing import FakeClock, capture_events


def ok() -> str:
    return "ok"


def boom() -> None:
    raise ConnectionError("down")


def feed(breaker: seawall.CircuitBreaker, successes: int, failures: int) -> None:
    for _ in range(successes):
        breaker.call(ok)
    for _ in range(failures):
        with pytest.raises(ConnectionError):
            breaker.call(boom)


def test_stays_closed_below_min_calls_even_at_100_percent_failures() -> None:
    breaker = seawall.CircuitBreaker("b", min_calls=20, clock=FakeClock())
    feed(breaker, 0, 19)
    assert breaker.state == "closed"
    feed(breaker, 0, 1)
    assert breaker.state == "open"


def test_opens_exactly_at_the_threshold() -> None:
    breaker = seawall.CircuitBreaker("b", failure_rate=0.5, min_calls=20, clock=FakeClock())
    feed(breaker, 10, 9)  # 9/19: below min_calls
    assert breaker.state == "closed"
    feed(breaker, 0, 1)  # 10/20 = 50 %: at the threshold
    assert breaker.state == "open"


def test_just_below_the_threshold_stays_closed() -> None:
    breaker = seawall.CircuitBreaker("b", failure_rate=0.5, min_calls=20, clock=FakeClock())
    feed(breaker, 11, 9)  # 9/20 = 45 %
    assert breaker.state == "closed"


def test_a_success_that_reaches_min_calls_trips_a_sick_window() -> None:
    breaker = seawall.CircuitBreaker("b", failure_rate=0.5, min_calls=20, clock=FakeClock())
    feed(breaker, 0, 15)
    feed(breaker, 4, 0)
    assert breaker.state == "closed"  # 19 calls
    feed(breaker, 1, 0)  # 20 calls, 75 % failures
    assert breaker.state == "open"


def test_open_breaker_fails_fast_with_retry_after() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("pay", min_calls=2, cooldown=30.0, clock=clock)
    feed(breaker, 0, 2)
    clock.advance(10.0)
    called = False

    def never() -> None:
        nonlocal called
        called = True

    with pytest.raises(seawall.CircuitOpen) as info:
        breaker.call(never)
    assert not called
    assert info.value.retry_after == pytest.approx(20.0)
    assert info.value.name == "pay"
    assert isinstance(info.value, seawall.Rejected)


def test_old_failures_slide_out_of_the_time_window() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("b", window=30.0, min_calls=10, clock=clock)
    feed(breaker, 0, 9)
    clock.advance(31.0)
    feed(breaker, 5, 5)  # the 9 old failures are gone: 5/10
    assert breaker.state == "open"
    clock2 = FakeClock()
    breaker2 = seawall.CircuitBreaker("b", window=30.0, min_calls=10, clock=clock2)
    feed(breaker2, 0, 9)
    clock2.advance(31.0)
    feed(breaker2, 6, 4)  # 4/10 only
    assert breaker2.state == "closed"


def test_count_window_keeps_the_last_n_calls() -> None:
    breaker = seawall.CircuitBreaker(
        "b", window=10, window_type="count", min_calls=10, clock=FakeClock()
    )
    feed(breaker, 0, 4)
    feed(breaker, 10, 0)  # the 4 failures are pushed out
    feed(breaker, 0, 4)
    assert breaker.state == "closed"  # 4/10
    feed(breaker, 0, 1)
    assert breaker.state == "open"  # 5/10


def test_half_open_after_cooldown_then_closes_on_healthy_probes() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker(
        "b", min_calls=2, cooldown=30.0, half_open_calls=3, clock=clock
    )
    feed(breaker, 0, 2)
    clock.advance(30.0)
    assert breaker.state == "half_open"
    feed(breaker, 3, 0)
    assert breaker.state == "closed"
    assert breaker.statistics().calls == 0  # a fresh window


def test_half_open_reopens_when_probes_fail() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker(
        "b", min_calls=2, cooldown=30.0, half_open_calls=3, clock=clock
    )
    feed(breaker, 0, 2)
    clock.advance(30.0)
    feed(breaker, 1, 2)
    assert breaker.state == "open"
    with pytest.raises(seawall.CircuitOpen) as info:
        breaker.call(ok)
    assert info.value.retry_after == pytest.approx(30.0)


def test_half_open_admits_exactly_n_concurrent_probes_under_16_threads() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("b", min_calls=2, cooldown=1.0, half_open_calls=3, clock=clock)
    feed(breaker, 0, 2)
    clock.advance(1.0)
    release = threading.Event()
    inside = 0
    rejected = 0
    changed = threading.Condition()
    start = threading.Barrier(16)

    def probe() -> None:
        nonlocal inside
        with changed:
            inside += 1
            changed.notify_all()
        release.wait(timeout=10)

    def worker() -> None:
        nonlocal rejected
        start.wait()
        try:
            breaker.call(probe)
        except seawall.CircuitOpen:
            with changed:
                rejected += 1
                changed.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    with changed:
        assert changed.wait_for(lambda: inside + rejected == 16, timeout=10)
        assert (inside, rejected) == (3, 13)
    release.set()
    for t in threads:
        t.join()
    assert inside == 3
    assert breaker.state == "closed"


def test_half_open_admits_exactly_n_concurrent_probes_under_asyncio() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("b", min_calls=2, cooldown=1.0, half_open_calls=3, clock=clock)
    feed(breaker, 0, 2)
    clock.advance(1.0)

    async def main() -> tuple[int, int]:
        gate = asyncio.Event()
        inside = 0

        async def probe() -> None:
            nonlocal inside
            inside += 1
            await gate.wait()

        tasks = [asyncio.create_task(breaker.acall(probe)) for _ in range(16)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen = inside
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        rejected = sum(isinstance(r, seawall.CircuitOpen) for r in results)
        return seen, rejected

    seen, rejected = asyncio.run(main())
    assert (seen, rejected) == (3, 13)
    assert breaker.state == "closed"


def test_cancelled_probe_gives_its_permit_back() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("b", min_calls=2, cooldown=1.0, half_open_calls=1, clock=clock)
    feed(breaker, 0, 2)
    clock.advance(1.0)

    async def main() -> None:
        async def hang() -> None:
            await asyncio.Event().wait()

        task = asyncio.create_task(breaker.acall(hang))
        await asyncio.sleep(0)
        with pytest.raises(seawall.CircuitOpen):
            await breaker.acall(asyncio.sleep, 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await breaker.acall(asyncio.sleep, 0, "probe") == "probe"

    asyncio.run(main())
    assert breaker.state == "closed"


def test_rejections_and_ignored_errors_are_not_failures() -> None:
    breaker = seawall.CircuitBreaker(
        "b", min_calls=2, ignore=lambda e: isinstance(e, KeyError), clock=FakeClock()
    )

    def full() -> None:
        raise seawall.BulkheadFull("bh", "full")

    def missing() -> None:
        raise KeyError("x")

    for _ in range(10):
        with pytest.raises(seawall.BulkheadFull):
            breaker.call(full)
        with pytest.raises(KeyError):
            breaker.call(missing)
    assert breaker.state == "closed"
    assert breaker.statistics().calls == 0


def test_record_predicate_decides_what_counts_as_failure() -> None:
    breaker = seawall.CircuitBreaker(
        "b", min_calls=2, record=lambda e: not isinstance(e, ValueError), clock=FakeClock()
    )

    def invalid() -> None:
        raise ValueError

    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(invalid)
    stats = breaker.statistics()
    assert (stats.calls, stats.failures, breaker.state) == (5, 0, "closed")


def test_slow_calls_trip_the_breaker() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker(
        "b", min_calls=4, slow_call_duration=1.0, slow_call_rate=0.5, clock=clock
    )

    def slow() -> str:
        clock.advance(2.0)
        return "late"

    breaker.call(ok)
    breaker.call(ok)
    breaker.call(slow)
    assert breaker.state == "closed"
    breaker.call(slow)
    assert breaker.state == "open"


def test_manual_states() -> None:
    breaker = seawall.CircuitBreaker("b", min_calls=2, clock=FakeClock())
    breaker.force_open()
    with pytest.raises(seawall.CircuitOpen) as info:
        breaker.call(ok)
    assert info.value.retry_after is None
    breaker.disable()
    feed(breaker, 0, 10)
    assert breaker.state == "disabled"
    breaker.metrics_only()
    feed(breaker, 0, 10)
    assert breaker.state == "metrics_only"
    assert breaker.statistics().failures == 10
    breaker.reset()
    assert breaker.state == "closed"
    assert breaker.call(ok) == "ok"


def test_state_change_events_follow_legal_edges() -> None:
    from seawall.policies._breaker import LEGAL_TRANSITIONS

    clock = FakeClock()
    breaker = seawall.CircuitBreaker("b", min_calls=2, cooldown=5.0, half_open_calls=1, clock=clock)
    with capture_events() as events:
        feed(breaker, 0, 2)
        clock.advance(5.0)
        feed(breaker, 0, 1)
        clock.advance(5.0)
        feed(breaker, 1, 0)
    changes = [(e.old, e.new) for e in events if isinstance(e, seawall.BreakerStateChanged)]
    assert changes == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert all(change in LEGAL_TRANSITIONS for change in changes)


def test_registry_gives_one_breaker_per_key_and_bounds_keys() -> None:
    clock = FakeClock()
    registry = seawall.Registry(
        lambda host: seawall.CircuitBreaker(host, clock=clock),
        max_keys=3,
        idle_timeout=60.0,
        clock=clock,
    )
    a = registry.get("a.example")
    assert registry.get("a.example") is a
    registry.get("b")
    registry.get("c")
    clock.advance(1.0)  # recency is recorded at most once a second per key
    registry.get("a.example")  # most recently used
    registry.get("d")  # evicts the least recently used: b
    assert registry.keys() == ["c", "a.example", "d"]
    clock.advance(61.0)
    registry.get("e")
    assert registry.keys() == ["e"]  # idle keys were dropped


def test_validation() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.CircuitBreaker("b", failure_rate=0)
    with pytest.raises(seawall.ConfigError):
        seawall.CircuitBreaker("b", window=0.5)
    with pytest.raises(seawall.ConfigError):
        seawall.CircuitBreaker("b", window_type="count", window=2.5)
    with pytest.raises(seawall.ConfigError):
        seawall.CircuitBreaker("b", window_type="sliding")  # type: ignore[arg-type]
