"""FakeClock, deadline scopes, and downstream timeouts."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from datetime import timedelta

import pytest

import seawall
from seawall.testing import FakeClock


def test_fake_clock_advances_only_when_told_or_slept_on() -> None:
    clock = FakeClock(start=10.0)
    assert clock.now() == 10.0
    clock.advance(1.5)
    clock.sleep(0.25)
    asyncio.run(clock.asleep(0.25))
    assert clock.now() == 12.0
    assert clock.sleeps == [0.25, 0.25]
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_fake_clock_fixture_comes_from_the_plugin(fake_clock: FakeClock) -> None:
    assert isinstance(fake_clock, FakeClock)
    assert fake_clock.now() == 0.0


def test_no_deadline_means_no_remaining_and_cap_passes_through() -> None:
    assert seawall.remaining() is None
    assert seawall.downstream_timeout() is None
    assert seawall.downstream_timeout(1.0) == 1.0


def test_remaining_counts_down_on_the_clock() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock) as scope:
        assert scope is not None
        assert seawall.remaining() == 5.0
        clock.advance(2.0)
        assert seawall.remaining() == 3.0
        clock.advance(4.0)
        assert seawall.remaining() == -1.0
        assert scope.expired()
    assert seawall.remaining() is None


def test_nested_scopes_take_the_nearest_deadline() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock):
        with seawall.deadline(10.0, clock=clock):
            assert seawall.remaining() == 5.0  # cannot extend the caller's budget
        with seawall.deadline(timedelta(seconds=2), clock=clock):
            assert seawall.remaining() == 2.0
            with seawall.deadline(None):
                assert seawall.remaining() == 2.0
        assert seawall.remaining() == 5.0


def test_downstream_timeout_keeps_ten_percent_reserve() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock):
        assert seawall.downstream_timeout() == pytest.approx(4.5)  # the seed: 5 s in, 4.5 down
        assert seawall.downstream_timeout(1.0) == 1.0
    with seawall.deadline(0.2, clock=clock):
        assert seawall.downstream_timeout() == pytest.approx(0.15)  # at least 50 ms kept
    with seawall.deadline(0.01, clock=clock):
        assert seawall.downstream_timeout() == 0.0  # never negative


def test_downstream_timeout_is_always_shorter_going_down() -> None:
    clock = FakeClock()
    with seawall.deadline(5.0, clock=clock):
        first = seawall.downstream_timeout()
        assert first is not None
        with seawall.deadline(first, clock=clock):
            second = seawall.downstream_timeout()
            assert second is not None
            assert second < first < 5.0


def test_deadline_rejects_negative_and_nan() -> None:
    with pytest.raises(seawall.ConfigError, match="non-negative"):
        seawall.deadline(-1)
    with pytest.raises(seawall.ConfigError):
        seawall.deadline(float("nan"))


def test_deadline_reaches_asyncio_tasks() -> None:
    clock = FakeClock()

    async def child() -> float | None:
        return seawall.remaining()

    async def main() -> float | None:
        async with seawall.deadline(3.0, clock=clock):
            return await asyncio.create_task(child())

    assert asyncio.run(main()) == 3.0


def test_deadline_reaches_threads_started_with_a_copied_context() -> None:
    clock = FakeClock()
    seen: list[float | None] = []
    with seawall.deadline(4.0, clock=clock):
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(lambda: seen.append(seawall.remaining()),))
        thread.start()
        thread.join()
        plain = threading.Thread(target=lambda: seen.append(seawall.remaining()))
        plain.start()
        plain.join()
    assert seen == [4.0, None]  # a thread without the copied context has no deadline


def test_deadline_reaches_to_thread() -> None:
    clock = FakeClock()

    async def main() -> float | None:
        async with seawall.deadline(2.0, clock=clock):
            return await asyncio.to_thread(seawall.remaining)

    assert asyncio.run(main()) == 2.0


def test_a_scope_cannot_be_entered_twice_at_once() -> None:
    scope = seawall.deadline(1.0)
    with scope, pytest.raises(RuntimeError), scope:
        pass
