"""The alarm watchdog: buckets of 5 ms behind one loop timer (driven by a fake loop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from seawall._alarm import RESOLUTION, Alarm, _Watchdog


class _Handle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what the watchdog uses: ``time()`` and ``call_at()``; ``advance`` runs timers."""

    def __init__(self) -> None:
        self.now = 100.0
        self.handles: list[_Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle(when, callback)
        self.handles.append(handle)
        return handle

    def live(self) -> list[_Handle]:
        return [h for h in self.handles if not h.cancelled]

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            due = [h for h in self.live() if h.when <= self.now]
            if not due:
                return
            for handle in due:
                self.handles.remove(handle)
                handle.callback()


class FakeTask:
    def __init__(self) -> None:
        self.cancels = 0

    def cancel(self, msg: Any = None) -> bool:
        self.cancels += 1
        return True


def _arm(loop: FakeLoop, watchdog: _Watchdog, seconds: float) -> tuple[Alarm, FakeTask]:
    task = FakeTask()
    alarm = Alarm(loop.time() + seconds, task)  # type: ignore[arg-type]
    watchdog.add(alarm)
    return alarm, task


def test_one_loop_timer_serves_every_bucket() -> None:
    loop = FakeLoop()
    watchdog = _Watchdog(loop)  # type: ignore[arg-type]
    alarms = [_arm(loop, watchdog, 5.0 + i * 0.01) for i in range(100)]
    assert len(watchdog.buckets) == 100
    assert len(loop.live()) == 1  # not one timer per bucket in the loop's heap
    for alarm, _ in alarms:
        alarm.disarm()
    loop.advance(6.0)
    assert all(task.cancels == 0 for _, task in alarms)
    assert watchdog.buckets == {}
    assert loop.live() == []  # nothing left to wake the loop for


def test_alarms_fire_never_early_and_at_most_one_bucket_late() -> None:
    loop = FakeLoop()
    watchdog = _Watchdog(loop)  # type: ignore[arg-type]
    alarm, task = _arm(loop, watchdog, 0.0123)
    loop.advance(0.012)
    assert task.cancels == 0
    assert not alarm.fired
    loop.advance(RESOLUTION)
    assert task.cancels == 1
    assert alarm.fired
    assert not alarm.active


def test_an_earlier_deadline_moves_the_timer_forward() -> None:
    loop = FakeLoop()
    watchdog = _Watchdog(loop)  # type: ignore[arg-type]
    _, late = _arm(loop, watchdog, 5.0)
    _, early = _arm(loop, watchdog, 0.1)
    assert len(loop.live()) == 1
    assert loop.live()[0].when == pytest.approx(100.1, abs=RESOLUTION)
    loop.advance(0.1 + RESOLUTION)
    assert (early.cancels, late.cancels) == (1, 0)
    assert len(loop.live()) == 1  # re-armed for the next bucket
    loop.advance(5.0)
    assert late.cancels == 1


def test_a_disarmed_alarm_never_fires_and_its_neighbours_do() -> None:
    loop = FakeLoop()
    watchdog = _Watchdog(loop)  # type: ignore[arg-type]
    kept, kept_task = _arm(loop, watchdog, 1.0)
    dropped, dropped_task = _arm(loop, watchdog, 1.0)  # same bucket
    dropped.disarm()
    dropped.disarm()  # idempotent
    loop.advance(1.0 + RESOLUTION)
    assert (kept_task.cancels, dropped_task.cancels) == (1, 0)
    assert kept.fired
    assert not dropped.fired


def test_a_deadline_in_the_past_fires_at_the_next_tick() -> None:
    loop = FakeLoop()
    watchdog = _Watchdog(loop)  # type: ignore[arg-type]
    _, task = _arm(loop, watchdog, -1.0)
    loop.advance(0.0)
    assert task.cancels == 1
