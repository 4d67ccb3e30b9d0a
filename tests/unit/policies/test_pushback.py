"""Retry pushback: a failure whose retries a budget refused is not retried above it."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

import seawall
from seawall import _pushback
from seawall.testing import FakeClock


def _down() -> None:
    raise ConnectionError("the dependency is down")


def _retry(clock: FakeClock, budget: seawall.RetryBudget | None) -> seawall.Retry:
    return seawall.Retry(
        attempts=3, budget=budget, backoff=seawall.Backoff.constant(0.0), clock=clock
    )


def _fail(policy: seawall.Retry, fn: object = _down) -> BaseException:
    with pytest.raises(Exception) as info:
        policy.call(fn)  # type: ignore[arg-type]
    return info.value


def test_a_call_refused_by_its_budget_is_spent_and_not_retried_above() -> None:
    """The first failed call keeps its 3 attempts (not spent: the layer above may retry
    it); the next one's retries are refused while every call fails: spent, and
    ``seawall.transient`` no longer retries it, nor does an outer Retry."""
    clock = FakeClock()
    inner = _retry(clock, seawall.RetryBudget(clock=clock))
    first = _fail(inner)
    assert not _pushback.spent(first)
    assert seawall.transient(first)
    second = _fail(inner)
    assert inner.calls_budget_refused == 1
    assert _pushback.spent(second)
    assert not seawall.transient(second)

    calls = 0

    def below() -> None:
        nonlocal calls
        calls += 1
        inner.call(_down)

    outer = _retry(clock, None)
    assert _pushback.spent(_fail(outer, below))
    assert calls == 1  # the outer layer tried once
    assert outer.calls_not_retryable == 1


def test_attempts_running_out_without_a_budget_is_not_spent() -> None:
    """The layer above keeps its own judgement: 3 layers of 4 attempts still make 4**3."""
    clock = FakeClock()
    leaf = 0

    def down() -> None:
        nonlocal leaf
        leaf += 1
        raise ConnectionError

    layers = [seawall.Retry(4, backoff=seawall.Backoff.constant(0.0), clock=clock) for _ in "abc"]
    error = _fail(layers[0], lambda: layers[1].call(lambda: layers[2].call(down)))
    assert leaf == 64
    assert not _pushback.spent(error)


def test_a_flaky_dependency_refused_by_the_budget_is_left_to_the_layer_above() -> None:
    """Fewer than half of the window's calls fail: a refused retry is not spent."""
    clock = FakeClock()
    budget = seawall.RetryBudget(clock=clock)
    inner = _retry(clock, budget)
    for _ in range(3):
        inner.call(lambda: None)
    for _ in range(2):  # two failed calls in a row: the second one's retries are refused
        error = _fail(inner)
    assert inner.calls_budget_refused == 1
    assert not budget.failing()
    assert not _pushback.spent(error)
    assert seawall.transient(error)


def test_the_ratio_refusing_a_dependency_that_keeps_failing_is_spent_too() -> None:
    clock = FakeClock()
    budget = seawall.RetryBudget(ratio=0.0, min_per_second=0.0, window=1.0, clock=clock)
    error = _fail(_retry(clock, budget))
    assert "the retry budget is spent" in error.__notes__[0]
    assert _pushback.spent(error)


def test_an_answer_that_said_do_not_retry_is_passed_on() -> None:
    """A failure already marked spent (by a client edge reading the answer) is not
    retried, and the request being served is noted for its server edge."""
    clock = FakeClock()

    def answered() -> None:
        exc = ConnectionError("503 from below")
        setattr(exc, _pushback.SPENT, True)
        raise exc

    def serve() -> bool:
        _fail(_retry(clock, seawall.RetryBudget(clock=clock)), answered)
        return _pushback.answered_spent()

    assert contextvars.copy_context().run(serve)
    assert not _pushback.answered_spent()  # nothing leaked into this context


def test_the_note_on_the_request_is_read_once() -> None:
    def serve() -> tuple[bool, bool]:
        _pushback.spend(ConnectionError())
        return _pushback.answered_spent(), _pushback.answered_spent()

    assert contextvars.copy_context().run(serve) == (True, False)


def test_an_async_handler_that_renders_its_own_error_leaves_the_note_for_its_edge() -> None:
    """The note is on the request's context: set in the handler, read by the edge after."""
    clock = FakeClock()
    policy = _retry(clock, seawall.RetryBudget(clock=clock))

    async def down() -> None:
        raise ConnectionError

    async def handler() -> int:
        for _ in range(2):
            try:
                await policy.acall(down)
            except ConnectionError:
                status = 502
        return status

    async def edge() -> tuple[int, bool]:
        status = await handler()
        return status, _pushback.answered_spent()

    assert asyncio.run(edge()) == (502, True)


class _Headers(dict[str, str]):
    pass


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-retry": "no"}, True),
        ({"x-request-retry": " No "}, True),
        ({"x-request-retry": "yes"}, False),
        ({"x-envoy-overloaded": "true"}, True),
        ({}, False),
    ],
)
def test_the_answers_that_say_do_not_retry(headers: dict[str, str], expected: bool) -> None:
    assert _pushback.no_retry_answer(_Headers(headers)) is expected
