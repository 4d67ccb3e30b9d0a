"""Every core counts what it decides, in plain fields a metrics collector reads at scrape time."""

from __future__ import annotations

import asyncio

import pytest

import seawall
from seawall.testing import FakeClock


def flaky(failures: int) -> object:
    """A callable failing with a transient error ``failures`` times, then answering."""
    left = [failures]

    def call() -> str:
        if left[0]:
            left[0] -= 1
            raise ConnectionError("reset")
        return "ok"

    return call


def test_retry_counts_calls_by_outcome_and_the_attempts_beyond_the_first() -> None:
    retry = seawall.Retry(
        3, budget=seawall.RetryBudget(ratio=0.0, min_per_second=0.1, window=10.0), clock=FakeClock()
    )
    assert retry.call(flaky(0)) == "ok"
    assert retry.call(flaky(1)) == "ok"
    with pytest.raises(ValueError):
        retry.call(_raise(ValueError("bad input")))
    with pytest.raises(ConnectionError):
        retry.call(flaky(5))  # the budget holds one retry (0.1/s over 10 s): spent above
    assert (retry.calls_success_first_try, retry.calls_success_after_retry) == (1, 1)
    assert (retry.calls_not_retryable, retry.calls_budget_refused) == (1, 1)
    assert (retry.calls_failed_after_retry, retry.calls_deadline_refused) == (0, 0)
    assert (retry.attempts_original, retry.attempts_retry) == (4, 1)


def _raise(exc: Exception) -> object:
    def call() -> None:
        raise exc

    return call


def test_a_call_refused_by_a_policy_is_counted_as_not_retryable_never_as_a_deadline() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("dep", min_calls=2, failure_rate=0.5, clock=clock)
    retry = seawall.Retry(2, budget=None, clock=clock)
    guarded = seawall.Pipeline(retry, breaker)
    with pytest.raises(ConnectionError):
        guarded.call(flaky(5))  # two failed attempts: the breaker opens on them
    for _ in range(3):
        with pytest.raises(seawall.CircuitOpen):
            guarded.call(flaky(0))
    assert (retry.calls_failed_after_retry, retry.calls_not_retryable) == (1, 3)
    assert retry.calls_deadline_refused == 0


def test_the_breaker_counts_outcomes_rejections_and_each_transition() -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker(
        "db", min_calls=2, cooldown=5.0, half_open_calls=1, clock=clock
    )
    breaker.call(flaky(0))
    with pytest.raises(ConnectionError):
        breaker.call(flaky(1))  # 1 failure in 2 calls: the breaker opens
    with pytest.raises(seawall.CircuitOpen):
        breaker.call(flaky(0))
    clock.advance(5.0)
    breaker.call(flaky(0))  # the probe closes it again
    with pytest.raises(seawall.BulkheadFull):
        breaker.call(_raise(seawall.BulkheadFull("db", "full")))  # no verdict
    assert (breaker.calls_success, breaker.calls_failure) == (2, 1)
    assert (breaker.calls_rejected, breaker.calls_ignored) == (1, 1)
    assert breaker.transitions == {
        ("closed", "open"): 1,
        ("open", "half_open"): 1,
        ("half_open", "closed"): 1,
    }


def test_async_successes_are_counted_by_the_breaker_window() -> None:
    breaker = seawall.CircuitBreaker("db", clock=FakeClock())

    async def ok() -> int:
        return 1

    async def main() -> None:
        for _ in range(5):
            await breaker.acall(ok)

    asyncio.run(main())
    assert breaker.calls_success == 5


def test_bulkhead_timeout_fallback_and_single_flight_counters() -> None:
    clock = FakeClock()
    bulkhead = seawall.Bulkhead("db", max_concurrent=1, clock=clock)
    with pytest.raises(seawall.BulkheadFull):
        bulkhead.call(bulkhead.call, flaky(0))
    assert (bulkhead.admitted, bulkhead.rejected_full, bulkhead.rejected_timeout) == (1, 1, 0)

    timeout = seawall.Timeout(1.0, clock=clock)
    with pytest.raises(seawall.DeadlineExceeded):
        timeout.call(clock.sleep, 2.0)
    assert timeout.timeouts == 1

    fallback = seawall.Fallback("cached", clock=clock)
    assert fallback.call(flaky(1)) == "cached"
    assert fallback.fallbacks == 1

    flight = seawall.SingleFlight(clock=clock)
    assert flight.run("k", lambda: flight.run("other", flaky(0))) == "ok"
    assert flight.coalesced == 0


def test_the_shedder_reports_calls_admitted_after_queueing() -> None:
    clock = FakeClock()
    shedder = seawall.LoadShedder("api", limit=1, max_queue=1, clock=clock)
    first = shedder.admit("high")
    first.enter()
    second = shedder.admit("high")
    assert not second.try_enter()
    assert shedder.statistics().admitted_after_queue["high"] == 0
    first.leave()
    assert second.try_enter()
    second.leave()
    assert shedder.statistics().admitted == {"critical": 0, "high": 2, "normal": 0, "low": 0}


def test_the_admission_state_counts_calls_admitted_after_queueing() -> None:
    from seawall.policies._admission import AdmissionState, Waiter
    from seawall.policies._limits import FixedLimit

    state = AdmissionState(
        FixedLimit(1),
        max_concurrent=1,
        shares=(1.0, 1.0, 1.0),
        max_queue=2,
        queue_target=0.005,
        queue_interval=0.1,
        lifo=False,
    )
    assert state.try_admit(1, 0.0, None)[0]
    admitted, wait, _ = state.try_admit(1, 0.0, None)
    assert not admitted
    assert wait > 0
    state.enqueue(Waiter(1, 0.0, lambda: None))
    assert len(state.release(0.001)) == 1
    assert state.admitted[1] == 2
    assert state.admitted_after_queue[1] == 1
