"""Timeout: bound a call by a deadline, derived from whatever budget is left.

``Timeout(seconds)`` opens a deadline scope of ``seconds`` (or less, if an enclosing
deadline is nearer) around the call. What it can enforce differs by form, on purpose:

* **async**: the awaited work is cancelled at the effective deadline and
  :class:`~seawall.DeadlineExceeded` is raised — asyncio can interrupt an ``await``.
* **sync**: cooperative. Python cannot safely interrupt a running thread, and running the
  call on a helper thread would abandon it (still holding sockets and locks) when the time
  is up. So the sync form opens the scope — I/O below it (the seawall HTTP client,
  ``seawall.downstream_timeout()``) uses the remaining time — and raises
  ``DeadlineExceeded`` *after* the call if it overran, discarding its result. A call that
  ignores the deadline is not cut short.

Either way, a deadline that is already spent raises at once without calling.
"""

from __future__ import annotations

from contextvars import Token
from datetime import timedelta
from typing import ClassVar

from seawall._alarm import Alarm
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current, enter, seconds_of
from seawall._errors import DeadlineExceeded
from seawall._events import Event, TimedOut
from seawall._validate import name as policy_name
from seawall.policies._base import Policy

__all__ = ["RequestTimeout", "Scoped", "Timeout", "timed_out"]


def timed_out(scope: Deadline, name: str, policy: str) -> TimedOut:
    """The fact that ``scope`` ran out, as an event."""
    return TimedOut(policy=policy, name=name, at=scope.clock.now(), timeout=scope.timeout)


def _exceeded(scope: Deadline, name: str, cause: BaseException | None) -> DeadlineExceeded:
    budget = scope.timeout or 0.0
    exc = scope.exceeded(f"{name}: deadline of {budget:.3f}s exceeded")
    exc.__cause__ = cause
    return exc


class Scoped:
    """What the driver asks of a policy that holds a deadline scope: its errors, counted.

    A :class:`Timeout`, and a :class:`~seawall.Retry` with a total ``timeout``.
    """

    __slots__ = ()
    _kind: ClassVar[str]
    _events: list[Event]
    name: str
    timeouts: int

    def _expired(self, scope: Deadline, cause: BaseException | None = None) -> DeadlineExceeded:
        """The error for ``scope`` running out; its event is recorded for the driver."""
        self.timeouts += 1  # type: ignore[misc]  # a slot of each subclass
        self._events.append(timed_out(scope, self.name, self._kind))
        return _exceeded(scope, self.name, cause)

    def _own(self, exc: TimeoutError, scope: Deadline) -> BaseException:
        """A socket timeout that fired because ``scope`` ran out is that scope's deadline."""
        if not isinstance(exc, DeadlineExceeded) and scope.clock.now() >= scope.when:
            return self._expired(scope, exc)
        return exc


class Timeout(Policy, Scoped):
    """Bound each call by ``seconds`` (never beyond an enclosing deadline).

    ``seconds`` is a positive number or a ``timedelta``; ``inf`` bounds nothing (the call
    runs under whatever deadline encloses it, or none).
    """

    __slots__ = ("_clock", "_events", "name", "seconds", "timeouts")
    _kind = "timeout"

    def __init__(
        self, seconds: float | timedelta, *, name: str = "timeout", clock: Clock | None = None
    ) -> None:
        self.seconds = seconds_of(seconds, "Timeout seconds", positive=True)
        self.name = policy_name(name)
        self._clock = clock or SYSTEM_CLOCK
        self.timeouts = 0  # calls that ran out of time (a counter, read without a lock)
        self._events: list[Event] = []  # recorded facts, emitted by the driver

    # -- what the driver asks of a timeout --------------------------------------------

    def _layout(self) -> tuple[str, ...]:
        return ("attempt",)

    def __repr__(self) -> str:
        return f"Timeout({self.seconds!r}, name={self.name!r})"


class RequestTimeout(Scoped):
    """The timeout core of a server edge, where each request brings its own budget.

    A server cannot compile one deadline into its driver: the budget is the caller's
    (``X-Request-Timeout-Ms`` and its peers), capped at the server's maximum, and differs
    per request. So the edge asks this core for each step the driver takes around a
    deadline — enter the scope (nested scopes take the minimum), arm the cancellation
    alarm through the clock, tell the alarm's cancellation from any other, leave — and
    the core counts ``timeouts`` and records ``TimedOut`` for the edge to emit, as a
    :class:`Timeout` does for the driver. ``kind`` names the edge in the events
    (``"http"``, ``"wsgi"``); ``name`` is ``"request"``.
    """

    __slots__ = ("_clock", "_events", "name", "timeouts")
    _kind = "http"

    def __init__(self, clock: Clock) -> None:
        self.name = "request"
        self._clock = clock
        self.timeouts = 0  # requests that ran past their budget (read without a lock)
        self._events: list[Event] = []  # recorded facts, emitted by the edge

    def enter(self, budget: float) -> tuple[Deadline, Token[Deadline | None], float] | None:
        """The request's scope, entered, its token and now; None if an enclosing one is spent."""
        entered = enter(budget, self._clock)
        if entered[0].when <= entered[2]:
            _current.reset(entered[1])
            return None
        return entered

    def leave(self, token: Token[Deadline | None], alarm: Alarm | None) -> None:
        """Disarm the alarm (if one was armed) and leave the scope."""
        if alarm is not None:
            alarm.disarm()
        _current.reset(token)

    def arm(self, scope: Deadline) -> Alarm | None:
        """The cancellation alarm for ``scope``; None off asyncio (trio): cooperative there."""
        try:
            return self._clock.cancel_at(scope.when)
        except RuntimeError:
            return None

    def cancelled(
        self, scope: Deadline, alarm: Alarm | None, exc: BaseException
    ) -> DeadlineExceeded | None:
        """After a cancellation: the deadline's error if the alarm caused it, else None."""
        if alarm is None or not alarm.claimed():
            return None
        return self._expired(scope, exc)

    def late(self, scope: Deadline) -> DeadlineExceeded | None:
        """After a call that cannot be cancelled (a thread): the deadline's error if it overran."""
        if self._clock.now() < scope.when:
            return None
        return self._expired(scope)

    def overran(self, scope: Deadline, alarm: Alarm | None) -> DeadlineExceeded | None:
        """After the work returned: the deadline's error if it swallowed the alarm."""
        if alarm is None or not alarm.fired:
            return None
        alarm.task.uncancel()
        return self._expired(scope)
