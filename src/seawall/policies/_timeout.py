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

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import Deadline, _current, nearest, seconds_of
from seawall._errors import DeadlineExceeded
from seawall._events import TimedOut, emit
from seawall._validate import name as policy_name
from seawall.policies._base import Policy

__all__ = ["Scoped", "Timeout", "enter_scope", "expired", "own_timeout"]


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


class Scoped:
    """What the driver asks of a policy that holds a deadline scope: its errors, counted.

    A :class:`Timeout`, and a :class:`~seawall.Retry` with a total ``timeout``.
    """

    __slots__ = ()
    _kind: ClassVar[str]
    name: str
    timeouts: int

    def _expired(self, scope: Deadline, cause: BaseException | None = None) -> DeadlineExceeded:
        self.timeouts += 1  # type: ignore[misc]  # a slot of each subclass
        return expired(scope, self.name, self._kind, cause)

    def _own(self, exc: TimeoutError, scope: Deadline) -> BaseException:
        return own_timeout(exc, scope, self.name, self._kind)


class Timeout(Policy, Scoped):
    """Bound each call by ``seconds`` (never beyond an enclosing deadline).

    ``seconds`` is a positive number or a ``timedelta``; ``inf`` bounds nothing (the call
    runs under whatever deadline encloses it, or none).
    """

    __slots__ = ("_clock", "name", "seconds", "timeouts")
    _kind = "timeout"

    def __init__(
        self, seconds: float | timedelta, *, name: str = "timeout", clock: Clock | None = None
    ) -> None:
        self.seconds = seconds_of(seconds, "Timeout seconds", positive=True)
        self.name = policy_name(name)
        self._clock = clock or SYSTEM_CLOCK
        self.timeouts = 0  # calls that ran out of time (a counter, read without a lock)

    # -- what the driver asks of a timeout --------------------------------------------

    def _layout(self) -> tuple[str, ...]:
        return ("attempt",)

    def __repr__(self) -> str:
        return f"Timeout({self.seconds!r}, name={self.name!r})"
