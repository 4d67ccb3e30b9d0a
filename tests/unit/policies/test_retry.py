"""Retry on a FakeClock: schedule, filters, deadlines, retry-after, budgets, keys."""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections.abc import Callable
from typing import Any

import pytest

import seawall
from seawall.testing import FakeClock, capture_events


class StatusError(Exception):
    def __init__(self, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


def flaky(failures: list[BaseException], result: Any = "ok") -> Callable[[], Any]:
    """A callable that raises each of ``failures`` in turn, then returns ``result``."""
    calls = iter(failures)

    def fn() -> Any:
        fn.calls += 1  # type: ignore[attr-defined]
        exc = next(calls, None)
        if exc is not None:
            raise exc
        return result

    fn.calls = 0  # type: ignore[attr-defined]
    return fn


def test_succeeds_on_the_third_attempt_with_the_seed_schedule() -> None:
    clock = FakeClock()
    retry = seawall.Retry(clock=clock, rng=random.Random(7))
    fn = flaky([ConnectionError(), ConnectionError()])
    assert retry.call(fn) == "ok"
    assert fn.calls == 3  # type: ignore[attr-defined]
    first, second = clock.sleeps
    assert 0.8 <= first <= 1.2  # 1 s ± 20 %
    assert 1.6 <= second <= 2.4  # 2 s ± 20 %


@pytest.mark.parametrize("seed", range(50))
def test_jitter_stays_within_twenty_percent(seed: int) -> None:
    clock = FakeClock()
    retry = seawall.Retry(clock=clock, rng=random.Random(seed))
    with pytest.raises(ConnectionError):
        retry.call(flaky([ConnectionError()] * 3))
    assert len(clock.sleeps) == 2
    assert 0.8 <= clock.sleeps[0] <= 1.2
    assert 1.6 <= clock.sleeps[1] <= 2.4


def test_gives_up_after_three_attempts_with_the_last_real_error_and_a_note() -> None:
    clock = FakeClock()
    errors = [ConnectionError("one"), ConnectionError("two"), ConnectionError("three")]
    with pytest.raises(ConnectionError, match="three") as info:
        seawall.Retry(clock=clock).call(flaky(errors))
    assert any("gave up after 3 attempts" in note for note in info.value.__notes__)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_tried_exactly_once(status: int) -> None:
    fn = flaky([StatusError(status)])
    with pytest.raises(StatusError) as info:
        seawall.Retry(clock=FakeClock()).call(fn)
    assert fn.calls == 1  # type: ignore[attr-defined]
    assert "not transient" in info.value.__notes__[0]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_5xx_408_429_are_retried(status: int) -> None:
    fn = flaky([StatusError(status)])
    assert seawall.Retry(clock=FakeClock()).call(fn) == "ok"
    assert fn.calls == 2  # type: ignore[attr-defined]


def test_transient_classification() -> None:
    assert seawall.transient(ConnectionResetError())
    assert seawall.transient(TimeoutError())
    assert not seawall.transient(ValueError())
    assert not seawall.transient(seawall.CircuitOpen("x", "open"))

    class Response:
        status_code = 503

    class HTTPError(Exception):
        response = Response()

    assert seawall.transient(HTTPError())

    class StatusAttr(Exception):
        status = 404

    assert not seawall.transient(StatusAttr())


def test_rejections_are_never_retried() -> None:
    for exc in (
        seawall.CircuitOpen("b", "open", retry_after=1.0),
        seawall.BulkheadFull("b", "full"),
        seawall.LoadShed("s", "shed", priority="low"),
    ):
        fn = flaky([exc])
        with pytest.raises(seawall.Rejected):
            seawall.Retry(on=Exception, clock=FakeClock()).call(fn)
        assert fn.calls == 1  # type: ignore[attr-defined]


def test_callers_deadline_exceeded_is_never_retried() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock) as scope:
        assert scope is not None
        fn = flaky([scope.exceeded()])
        with pytest.raises(seawall.DeadlineExceeded):
            seawall.Retry(clock=clock).call(fn)
    assert fn.calls == 1  # type: ignore[attr-defined]


def test_an_attempt_timeout_inside_the_retry_is_retried() -> None:
    clock = FakeClock()
    attempts = 0

    def slow_then_fast() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            clock.advance(2.0)  # overruns the 1 s attempt timeout
        return "ok"

    pipeline = seawall.Pipeline(seawall.Retry(clock=clock), seawall.Timeout(1.0, clock=clock))
    with seawall.deadline(30.0, clock=clock):
        assert pipeline.call(slow_then_fast) == "ok"
    assert attempts == 2


@pytest.mark.parametrize("budget", [0.5, 1.5, 2.9, 3.5, 10.0])
def test_no_backoff_sleep_crosses_the_deadline(budget: float) -> None:
    clock = FakeClock()
    with seawall.deadline(budget, clock=clock) as scope:
        assert scope is not None
        with pytest.raises(ConnectionError) as info:
            seawall.Retry(attempts=5, clock=clock, rng=random.Random(1)).call(
                flaky([ConnectionError()] * 5)
            )
        assert clock.now() <= scope.when
    assert sum(clock.sleeps) <= budget
    notes = " ".join(info.value.__notes__)
    assert "past the deadline" in notes or "gave up" in notes


def test_retry_after_is_honoured_when_it_fits() -> None:
    clock = FakeClock()
    fn = flaky([StatusError(503, retry_after=3.0)])
    with seawall.deadline(10.0, clock=clock):
        assert seawall.Retry(clock=clock).call(fn) == "ok"
    assert clock.sleeps == [3.0]


def test_retry_after_beyond_the_deadline_means_no_retry() -> None:
    clock = FakeClock()
    fn = flaky([StatusError(503, retry_after=30.0)])
    with seawall.deadline(10.0, clock=clock), pytest.raises(StatusError) as info:
        seawall.Retry(clock=clock).call(fn)
    assert fn.calls == 1  # type: ignore[attr-defined]
    assert clock.sleeps == []
    assert "retry-after" in info.value.__notes__[0]


def test_on_accepts_class_tuple_and_predicate() -> None:
    clock = FakeClock()
    assert seawall.Retry(on=KeyError, clock=clock).call(flaky([KeyError()])) == "ok"
    assert seawall.Retry(on=(KeyError, ValueError), clock=clock).call(flaky([ValueError()])) == "ok"
    pred = seawall.Retry(on=lambda e: "again" in str(e), clock=clock)
    assert pred.call(flaky([RuntimeError("again")])) == "ok"
    with pytest.raises(RuntimeError):
        pred.call(flaky([RuntimeError("stop")]))
    with pytest.raises(seawall.ConfigError):
        seawall.Retry(on=(KeyError, "nope"))  # type: ignore[arg-type]


def test_bad_parameters_are_refused_clearly() -> None:
    with pytest.raises(seawall.ConfigError, match="attempts"):
        seawall.Retry(attempts=0)
    with pytest.raises(seawall.ConfigError, match="3-5 attempts"):
        seawall.Retry(attempts=50)


def test_idempotency_key_is_the_same_on_every_attempt_under_an_attempt_timeout() -> None:
    # The first attempt's deadline scope doubles as the operation: the key made there
    # (here from a copy of the context, as a worker thread would) carries over.
    clock = FakeClock()
    keys: list[str] = []
    attempts: list[int] = []

    def fn() -> str:
        keys.append(contextvars.copy_context().run(seawall.idempotency_key))
        attempts.append(seawall.current_attempt())
        assert seawall.remaining() == pytest.approx(1.0)
        if len(keys) < 3:
            raise ConnectionError
        return "ok"

    pipeline = seawall.Pipeline(seawall.Retry(clock=clock), seawall.Timeout(1.0, clock=clock))
    assert pipeline.call(fn) == "ok"
    assert len(set(keys)) == 1
    assert attempts == [1, 2, 3]
    assert seawall.current_attempt() == 1
    pipeline.call(fn)
    assert keys[3] != keys[0]


def test_idempotency_key_is_the_same_on_every_attempt() -> None:
    keys: list[str] = []
    attempts: list[int] = []

    def fn() -> str:
        keys.append(seawall.idempotency_key())
        attempts.append(seawall.current_attempt())
        if len(keys) < 3:
            raise ConnectionError
        return "ok"

    retry = seawall.Retry(clock=FakeClock())
    retry.call(fn)
    assert len(set(keys)) == 1
    assert attempts == [1, 2, 3]
    retry.call(fn)  # a new logical operation gets a new key
    assert keys[3] != keys[0]
    assert seawall.idempotency_key() != seawall.idempotency_key()  # outside a retry
    assert seawall.current_attempt() == 1


def test_events_describe_every_decision() -> None:
    clock = FakeClock()
    with capture_events() as events:
        with pytest.raises(ConnectionError):
            seawall.Retry(name="pay", clock=clock).call(flaky([ConnectionError()] * 3))
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "AttemptStarted",
        "RetryScheduled",
        "AttemptStarted",
        "RetryScheduled",
        "AttemptStarted",
        "RetryRefused",
    ]
    refused = events[-1]
    assert isinstance(refused, seawall.RetryRefused)
    assert refused.reason == "attempts"
    assert refused.name == "pay"


def test_async_retry_uses_the_same_rules() -> None:
    clock = FakeClock()
    calls = 0

    @seawall.Retry(clock=clock, rng=random.Random(3))
    async def fetch(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError
        return x * 2

    assert asyncio.run(fetch(21)) == 42
    assert calls == 3
    assert 0.8 <= clock.sleeps[0] <= 1.2
    assert 1.6 <= clock.sleeps[1] <= 2.4


def test_decorator_keeps_name_and_signature() -> None:
    @seawall.Retry()
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    assert add(1) == 3
    assert add.__name__ == "add"
    assert add.__doc__ == "Add."


def test_decorating_a_method_binds_self() -> None:
    class Client:
        def __init__(self) -> None:
            self.n = 0

        @seawall.Retry(clock=FakeClock())
        def get(self, x: int) -> int:
            self.n += 1
            if self.n == 1:
                raise ConnectionError
            return x

    client = Client()
    assert client.get(5) == 5
    assert client.n == 2


def test_total_timeout_bounds_attempts_and_backoff() -> None:
    clock = FakeClock()
    retry = seawall.Retry(attempts=5, timeout=2.5, clock=clock, rng=random.Random(2))
    with pytest.raises(ConnectionError) as info:
        retry.call(flaky([ConnectionError()] * 5))
    assert clock.now() <= 2.5
    assert "past the deadline" in " ".join(info.value.__notes__)


def test_total_timeout_is_the_scope_below_and_never_extends_the_callers() -> None:
    clock = FakeClock()
    seen: list[float | None] = []
    retry = seawall.Retry(timeout=3.0, clock=clock)
    retry.call(lambda: seen.append(seawall.remaining()))
    with seawall.deadline(1.0, clock=clock):
        retry.call(lambda: seen.append(seawall.remaining()))
    assert seen == [3.0, 1.0]


def test_total_timeout_overrun_raises_deadline_exceeded_and_is_not_retried() -> None:
    clock = FakeClock()
    calls = 0

    def slow() -> str:
        nonlocal calls
        calls += 1
        clock.advance(5.0)
        return "late"

    with pytest.raises(seawall.DeadlineExceeded):
        seawall.Retry(timeout=1.0, clock=clock).call(slow)
    assert calls == 1


def test_socket_timeout_at_the_total_deadline_becomes_deadline_exceeded() -> None:
    clock = FakeClock()

    def times_out() -> None:
        clock.advance(1.0)
        raise TimeoutError("read timed out")

    with pytest.raises(seawall.DeadlineExceeded) as info:
        seawall.Retry(timeout=1.0, clock=clock).call(times_out)
    assert isinstance(info.value.__cause__, TimeoutError)


def test_async_total_timeout_cancels_the_attempt_in_flight() -> None:
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        with pytest.raises(seawall.DeadlineExceeded):
            await seawall.Retry(timeout=0.001).acall(asyncio.sleep, 5)
        assert task.cancelling() == 0

    asyncio.run(main())
