"""The driver's form for gate cores: policies that admit, queue or refuse a whole call.

A load shedder and an adaptive throttle decide once, before the call, whether it may run,
and learn from how it ended; they fill none of the standard slots of :mod:`._drive`. Such a
*gate core* answers the driver with decisions and never waits itself:

- ``_enter(park)``: a *ticket* (admitted: hand it back to ``_leave``), a :class:`Wait`
  (queued: the driver waits for it on the core's clock), or an exception (refused);
- ``_waited(wait, woken)``: after the wait, a ticket or an exception;
- ``_abandon(wait)``: the waiting caller is gone (cancelled, interrupted);
- ``_leave(ticket, exc)``: the call ended, with ``exc`` or ``None``.

A bulkhead fills its own slot of the compiled driver, but its queue is decided the same
way: the driver's queued path calls :func:`admit_sync` / :func:`admit_async` on it.

What the core decided (a rejection, a shed) it records on its ``_events`` list; the driver
emits them with :func:`~seawall._events.flush` after each decision. A queued call waits
through :meth:`Clock.wait` (threads) or :meth:`Clock.wait_future` (asyncio) only, so a
:class:`~seawall.testing.FakeClock` or a simulator drives the wait in virtual time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from seawall._clock import Clock
from seawall._events import Event, flush

__all__ = [
    "Gate",
    "Park",
    "Wait",
    "admit_async",
    "admit_sync",
    "gate_async",
    "gate_sync",
    "park_task",
    "park_thread",
]

Fn = Callable[..., Any]
AFn = Callable[..., Awaitable[Any]]


class Wait:
    """A queued call: wait up to ``seconds`` (``None``: no limit) for ``wake()``.

    The driver chooses what to wait on (a thread's event or a task's future) and passes
    ``park`` to the core, which makes the :class:`Wait` and keeps it queued: a wake-up that
    comes between the decision and the wait is never lost.
    """

    __slots__ = ("event", "future", "seconds", "waiter", "wake")

    def __init__(
        self,
        event: threading.Event | None,
        future: asyncio.Future[None] | None,
        wake: Callable[[], None],
    ) -> None:
        self.event = event
        self.future = future
        self.wake = wake
        self.seconds: float | None = None
        self.waiter: Any = None  # the core's own record of the queued call


Park = Callable[[], Wait]


class Gate(Protocol):
    """What the driver needs of a gate core (see the module docstring)."""

    _clock: Clock
    _events: list[Event]

    def _enter(self, park: Park) -> Any: ...

    def _waited(self, wait: Wait, woken: bool) -> Any: ...

    def _abandon(self, wait: Wait) -> None: ...

    def _leave(self, ticket: Any, exc: BaseException | None) -> None: ...


def park_thread() -> Wait:
    """A wait for the calling thread: an event the waker sets from any thread."""
    event = threading.Event()
    return Wait(event, None, event.set)


def park_task() -> Wait:
    """A wait for the calling task: a future resolved on its own loop, from any thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _resolve(future)
        else:
            loop.call_soon_threadsafe(_resolve, future)

    return Wait(None, future, wake)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def admit_sync(core: Gate, enter: Callable[[Park], Any]) -> Any:
    """Ask ``core`` (through ``enter``, its ``_enter`` or a form of it) to admit the
    calling thread; wait on its clock if queued.

    Returns the ticket to give back to ``_leave``, or raises the core's refusal.
    """
    decision = enter(park_thread)
    if core._events:
        flush(core)
    if decision.__class__ is Wait:
        try:
            event = decision.event
            assert event is not None  # park_thread made it
            woken = core._clock.wait(event, decision.seconds)
        except BaseException:
            core._abandon(decision)
            flush(core)
            raise
        decision = core._waited(decision, woken)
        if core._events:
            flush(core)
    if isinstance(decision, BaseException):
        raise decision
    return decision


async def admit_async(core: Gate, enter: Callable[[Park], Any]) -> Any:
    """The async :func:`admit_sync`: a queued task waits on the clock's ``wait_future``."""
    decision = enter(park_task)
    if core._events:
        flush(core)
    if decision.__class__ is Wait:
        try:
            future = decision.future
            assert future is not None  # park_task made it
            woken = await core._clock.wait_future(future, decision.seconds)
        except BaseException:
            core._abandon(decision)
            flush(core)
            raise
        decision = core._waited(decision, woken)
        if core._events:
            flush(core)
    if isinstance(decision, BaseException):
        raise decision
    return decision


def gate_sync(core: Gate, fn: Fn) -> Fn:
    """``fn`` run behind the gate ``core``."""
    enter, leave = core._enter, core._leave

    def run(*args: Any, **kwargs: Any) -> Any:
        ticket = admit_sync(core, enter)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            leave(ticket, exc)
            if core._events:
                flush(core)
            raise
        leave(ticket, None)
        if core._events:
            flush(core)
        return result

    return run


def gate_async(core: Gate, fn: AFn) -> AFn:
    """``fn`` awaited behind the gate ``core``."""
    enter, leave = core._enter, core._leave

    async def run(*args: Any, **kwargs: Any) -> Any:
        ticket = await admit_async(core, enter)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            leave(ticket, exc)
            if core._events:
                flush(core)
            raise
        leave(ticket, None)
        if core._events:
            flush(core)
        return result

    return run
