"""Timeout: bound a call by a deadline, derived from whatever budget is left.

``Timeout(seconds)`` opens a deadline scope of ``seconds`` (or less, if an enclosing
deadline is nearer) around the call. What it can enforce differs by shell, on purpose:

* **async**: the awaited work is cancelled at the effective deadline and
  :class:`~seawall.DeadlineExceeded` is raised — asyncio can interrupt an ``await``.
* **sync**: cooperative. Python cannot safely interrupt a running thread, and running the
  call on a helper thread would abandon it (still holding sockets and locks) when the time
  is up. So the sync shell opens the scope — I/O below it (the seawall HTTP client,
  ``seawall.downstream_timeout()``) uses the remaining time — and raises
  ``DeadlineExceeded`` *after* the call if it overran, discarding its result. A call that
  ignores the deadline is not cut short.

Either way, a deadline that is already spent raises at once without calling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current, seconds_of
from seawall._errors import DeadlineExceeded
from seawall._events import TimedOut, emit
from seawall.policies._alarm import arm
from seawall.policies._base import Args, Kwargs, Policy

__all__ = ["Timeout"]

T = TypeVar("T")


class Timeout(Policy):
    """Bound each call by ``seconds`` (never beyond an enclosing deadline)."""

    __slots__ = ("_clock", "name", "seconds")

    def __init__(
        self, seconds: float | timedelta, *, name: str = "timeout", clock: Clock | None = None
    ) -> None:
        self.seconds = seconds_of(seconds, "Timeout")
        self.name = name
        self._clock = clock or SYSTEM_CLOCK

    def _expired(self, scope: Deadline, cause: BaseException | None = None) -> DeadlineExceeded:
        emit(TimedOut(policy="timeout", name=self.name, at=self._clock.now(), timeout=self.seconds))
        exc = scope.exceeded(f"{self.name}: deadline of {self.seconds:.3f}s exceeded")
        exc.__cause__ = cause
        return exc

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        clock = self._clock
        now = clock.now()
        when = now + self.seconds
        parent = _current.get()
        if parent is not None:
            parent_when = parent.when if parent.clock is clock else now + parent.remaining()
            if parent_when < when:
                when = parent_when
        scope = Deadline(when, clock, self.seconds)
        if when <= now:
            raise self._expired(scope)
        token = _current.set(scope)
        try:
            result = fn(*args, **kwargs)
        except TimeoutError as exc:
            # A socket timeout that fired because our budget ran out is our deadline.
            if not isinstance(exc, DeadlineExceeded) and clock.now() >= when:
                raise self._expired(scope, exc) from exc
            raise
        finally:
            _current.reset(token)
        if clock.now() > when:
            raise self._expired(scope)
        return result

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        clock = self._clock
        now = clock.now()
        when = now + self.seconds
        parent = _current.get()
        if parent is not None:
            parent_when = parent.when if parent.clock is clock else now + parent.remaining()
            if parent_when < when:
                when = parent_when
        scope = Deadline(when, clock, self.seconds)
        if when <= now:
            raise self._expired(scope)
        token = _current.set(scope)
        alarm = arm(when - now)
        try:
            result = await fn(*args, **kwargs)
        except asyncio.CancelledError as exc:
            if alarm.fired and alarm.task.uncancel() == 0:
                raise self._expired(scope, exc) from None
            raise
        except TimeoutError as exc:
            if not isinstance(exc, DeadlineExceeded) and clock.now() >= when:
                raise self._expired(scope, exc) from exc
            raise
        finally:
            alarm.disarm()
            _current.reset(token)
        if alarm.fired:  # the work swallowed our cancellation and returned anyway
            alarm.task.uncancel()
            raise self._expired(scope)
        # On a virtual clock no real timer fires: an overrun shows up here instead.
        if clock.now() > when:
            raise self._expired(scope)
        return result

    def __repr__(self) -> str:
        return f"Timeout({self.seconds!r}, name={self.name!r})"
