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
from contextvars import Token
from datetime import timedelta
from typing import TypeVar

from seawall._alarm import arm
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current, nearest, seconds_of
from seawall._errors import DeadlineExceeded
from seawall._events import TimedOut, emit
from seawall.policies._base import Args, Kwargs, Policy

__all__ = ["Timeout", "enter_scope", "expired", "own_timeout"]

T = TypeVar("T")


def enter_scope(
    seconds: float, clock: Clock, name: str, policy: str
) -> tuple[Deadline, Token[Deadline | None]]:
    """Open a deadline scope of ``seconds`` (never past an enclosing one); raise if spent.

    Shared by :class:`Timeout` and a :class:`~seawall.Retry` with a total ``timeout``; no
    ``deadline()`` context-manager object, because it runs on every call.
    """
    scope, now = nearest(seconds, clock)
    if scope.when <= now:
        raise expired(scope, name, policy)
    return scope, _current.set(scope)


def expired(
    scope: Deadline, name: str, policy: str, cause: BaseException | None = None
) -> DeadlineExceeded:
    """The error (and the event) for ``scope`` running out."""
    budget = scope.timeout or 0.0
    emit(TimedOut(policy=policy, name=name, at=scope.clock.now(), timeout=scope.timeout))
    exc = scope.exceeded(f"{name}: deadline of {budget:.3f}s exceeded")
    exc.__cause__ = cause
    return exc


def own_timeout(exc: TimeoutError, scope: Deadline, name: str, policy: str) -> BaseException:
    """A socket timeout that fired because ``scope`` ran out is that scope's deadline."""
    if not isinstance(exc, DeadlineExceeded) and scope.clock.now() >= scope.when:
        return expired(scope, name, policy, exc)
    return exc


class Timeout(Policy):
    """Bound each call by ``seconds`` (never beyond an enclosing deadline)."""

    __slots__ = ("_clock", "name", "seconds")

    def __init__(
        self, seconds: float | timedelta, *, name: str = "timeout", clock: Clock | None = None
    ) -> None:
        self.seconds = seconds_of(seconds, "Timeout")
        self.name = name
        self._clock = clock or SYSTEM_CLOCK

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        scope, token = enter_scope(self.seconds, self._clock, self.name, "timeout")
        try:
            result = fn(*args, **kwargs)
        except TimeoutError as exc:
            mapped = own_timeout(exc, scope, self.name, "timeout")
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            _current.reset(token)
        if self._clock.now() > scope.when:
            raise expired(scope, self.name, "timeout")
        return result

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        scope, token = enter_scope(self.seconds, self._clock, self.name, "timeout")
        alarm = arm(scope.when - self._clock.now())
        try:
            result = await fn(*args, **kwargs)
        except asyncio.CancelledError as exc:
            if alarm.fired and alarm.task.uncancel() == 0:
                raise expired(scope, self.name, "timeout", exc) from None
            raise
        except TimeoutError as exc:
            mapped = own_timeout(exc, scope, self.name, "timeout")
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            alarm.disarm()
            _current.reset(token)
        if alarm.fired:  # the work swallowed our cancellation and returned anyway
            alarm.task.uncancel()
            raise expired(scope, self.name, "timeout")
        # On a virtual clock no real timer fires: an overrun shows up here instead.
        if self._clock.now() > scope.when:
            raise expired(scope, self.name, "timeout")
        return result

    def __repr__(self) -> str:
        return f"Timeout({self.seconds!r}, name={self.name!r})"
