"""Logs a person can read during an outage: rejections in plain words, floods folded."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

import seawall
from seawall import _events
from seawall._errors import BulkheadFull, CircuitOpen, LoadShed, Rejected
from seawall.testing import FakeClock, capture_events


@pytest.fixture
def info(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="seawall"):
        yield caplog


def _raise(error: BaseException) -> Callable[[], None]:
    def call() -> None:
        raise error

    return call


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "seawall"]


def _open_payments(clock: FakeClock) -> seawall.StandardPipeline:
    pipeline = seawall.standard("payments", clock=clock)
    pipeline.breaker.force_open()
    return pipeline


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            CircuitOpen("payments", "open", retry_after=2.0),
            "circuit open (payments); retry after 2.000s",
        ),
        (BulkheadFull("pool", "full"), "bulkhead full (pool)"),
        (LoadShed("edge", "shed", priority="low"), "shed (edge)"),
    ],
)
def test_a_rejection_says_which_policy_refused_not_that_it_is_not_transient(
    error: Rejected, words: str
) -> None:
    with capture_events() as events, pytest.raises(type(error)) as raised:
        seawall.Retry(clock=FakeClock()).call(_raise(error))
    assert raised.value.__notes__ == [f"seawall: retry: not retried after attempt 1: {words}"]
    [refused] = [e for e in events if isinstance(e, seawall.RetryRefused)]
    assert refused.reason == "rejected"


def test_487_rejected_calls_write_one_line_and_one_count(info: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    pipeline = _open_payments(clock)
    with capture_events() as events:
        for _ in range(487):
            with pytest.raises(CircuitOpen):
                pipeline.call(_raise(ConnectionError("refused")))
            clock.advance(0.001)
        _events.flush_repeats()
    lines = [line for line in _lines(info) if "not retrying" in line]
    assert len(lines) == 2
    assert lines[0].startswith("retry[payments]: not retrying after attempt 1: circuit open")
    assert lines[1].endswith("(486 more within 1s)")
    assert "not transient" not in "".join(_lines(info))
    # Hooks (metrics, tests) still see every decision; only the log is folded.
    assert sum(isinstance(e, seawall.RetryRefused) for e in events) == 487


def test_a_long_outage_writes_one_count_line_per_second(info: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    pipeline = _open_payments(clock)
    for _ in range(3 * 1024):  # 3 s at 1024 rejected calls per second (exact in binary)
        with pytest.raises(CircuitOpen):
            pipeline.call(_raise(ConnectionError()))
        clock.advance(1 / 1024)
    _events.flush_repeats()
    lines = [line for line in _lines(info) if "circuit open" in line]
    assert len(lines) == 4
    assert lines[1].endswith("(1023 more within 1s)")
    assert lines[2].endswith("(1024 times within 1s)")
    assert lines[3].endswith("(1024 times within 1s)")


def test_a_flood_that_stops_gets_its_count_before_the_next_decision_is_written(
    info: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    pipeline = _open_payments(clock)
    for _ in range(10):
        with pytest.raises(CircuitOpen):
            pipeline.call(_raise(ConnectionError()))
    clock.advance(5.0)
    with pytest.raises(ValueError):
        seawall.Retry(name="orders", clock=clock).call(_raise(ValueError("bad")))
    assert _lines(info) == [
        "circuit_breaker[payments]: circuit closed -> forced_open",
        "retry[payments]: not retrying after attempt 1: circuit open (payments)",
        "retry[payments]: not retrying after attempt 1: circuit open (payments) (9 more within 1s)",
        "retry[orders]: not retrying after attempt 1 (not_retryable): ValueError('bad')",
    ]


def test_every_state_change_is_written_even_many_in_a_second(
    info: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    breaker = seawall.CircuitBreaker("flappy", clock=clock)
    for _ in range(5):
        breaker.force_open()
        breaker.reset()
    changes = [line for line in _lines(info) if "->" in line]
    assert len(changes) == 10


def test_different_policies_and_decisions_are_not_folded_together(
    info: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    for name in ("a", "b"):
        for error in (ValueError("x"), KeyError("y"), ValueError("z")):
            with pytest.raises(type(error)):
                seawall.Retry(name=name, clock=clock).call(_raise(error))
    _events.flush_repeats()
    assert _lines(info) == [
        "retry[a]: not retrying after attempt 1 (not_retryable): ValueError('x')",
        "retry[a]: not retrying after attempt 1 (not_retryable): KeyError('y')",
        "retry[b]: not retrying after attempt 1 (not_retryable): ValueError('x')",
        "retry[b]: not retrying after attempt 1 (not_retryable): KeyError('y')",
        "retry[a]: not retrying after attempt 1 (not_retryable): ValueError('z') (1 more within 1s)",
        "retry[b]: not retrying after attempt 1 (not_retryable): ValueError('z') (1 more within 1s)",
    ]


def test_nothing_is_tracked_when_the_level_filters_the_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    pipeline = _open_payments(clock)
    with caplog.at_level(logging.WARNING, logger="seawall"):
        for _ in range(100):
            with pytest.raises(CircuitOpen):
                pipeline.call(_raise(ConnectionError()))
    assert _events._repeats == {}
    assert [r for r in caplog.records if r.levelno < logging.WARNING] == []


def test_each_test_starts_with_no_open_window_first(info: pytest.LogCaptureFixture) -> None:
    # Leaves a window open at virtual time 0 for the next test (the plugin clears it).
    with pytest.raises(ValueError):
        seawall.Retry(name="reused", clock=FakeClock()).call(_raise(ValueError("one")))
    assert len(_lines(info)) == 1


def test_each_test_starts_with_no_open_window_second(info: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError):
        seawall.Retry(name="reused", clock=FakeClock()).call(_raise(ValueError("two")))
    assert _lines(info) == [
        "retry[reused]: not retrying after attempt 1 (not_retryable): ValueError('two')"
    ]
