"""Deadlines: one absolute point in time per request, carried on contextvars.

Modelled on trio's cancel scopes and gRPC deadline propagation: entering a scope turns a
relative budget into an absolute deadline on a :class:`~seawall.Clock`; nested scopes
take the nearest deadline; every layer below derives its own timeout from what is left.
:func:`downstream_timeout` keeps a reserve for the caller (10 % of what is left, at least
50 ms), so the timeout handed down is always shorter than the caller's — 5 s in,
4.5 s down — by construction, also across processes (see :mod:`seawall.wire`).

A deadline scope only *carries* the budget. Enforcement is the job of
:class:`~seawall.Timeout` and of the I/O layers that read :func:`remaining`. Scopes live in
a ``ContextVar``, so they follow ``asyncio`` tasks and threads started with a copied
context (``contextvars.copy_context().run``, ``asyncio.to_thread``).
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from datetime import timedelta
from types import TracebackType

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError, DeadlineExceeded

__all__ = [
    "MIN_RESERVE",
    "RESERVE_RATIO",
    "Deadline",
    "current_deadline",
    "deadline",
    "downstream_timeout",
    "nearest",
    "remaining",
    "seconds_of",
]

RESERVE_RATIO = 0.10
MIN_RESERVE = 0.050


def seconds_of(value: float | timedelta, what: str = "seconds") -> float:
    """Accept seconds as a number or a ``timedelta``; reject negatives and NaN clearly."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not seconds >= 0.0:  # also catches NaN
        raise ConfigError(f"{what} must be a non-negative number of seconds, got {value!r}")
    return seconds


class Deadline:
    """An absolute deadline on a clock: ``when`` is in ``clock.now()`` seconds."""

    __slots__ = ("clock", "timeout", "when")

    def __init__(self, when: float, clock: Clock, timeout: float | None = None) -> None:
        self.when = when
        self.clock = clock
        self.timeout = timeout

    def remaining(self) -> float:
        """Seconds left; negative once the deadline has passed."""
        return self.when - self.clock.now()

    def expired(self) -> bool:
        return self.clock.now() >= self.when

    def exceeded(self, message: str | None = None) -> DeadlineExceeded:
        """A :class:`DeadlineExceeded` naming this scope (raise it)."""
        budget = "" if self.timeout is None else f" of {self.timeout:.3f}s"
        exc = DeadlineExceeded(message or f"deadline{budget} exceeded", timeout=self.timeout)
        exc.scope = self
        return exc

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.3f}s, timeout={self.timeout})"


_current: ContextVar[Deadline | None] = ContextVar("seawall_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The nearest deadline in force here, or ``None``."""
    return _current.get()


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative), or ``None`` without one."""
    scope = _current.get()
    if scope is None:
        return None
    return scope.when - scope.clock.now()


def downstream_timeout(
    cap: float | None = None,
    *,
    reserve_ratio: float = RESERVE_RATIO,
    min_reserve: float = MIN_RESERVE,
) -> float | None:
    """The timeout to give a call made from here: ``min(cap, remaining - reserve)``.

    The reserve (10 % of what is left, at least 50 ms) is what the caller keeps to do
    something useful when the downstream times out. Returns ``cap`` without a deadline,
    ``None`` when there is neither, and never less than 0.
    """
    scope = _current.get()
    if scope is None:
        return cap
    left = scope.when - scope.clock.now()
    budget = left - max(left * reserve_ratio, min_reserve)
    if cap is not None and cap < budget:
        budget = cap
    return budget if budget > 0.0 else 0.0


def nearest(seconds: float, clock: Clock) -> tuple[Deadline, float]:
    """The scope ``seconds`` from now, never past the enclosing deadline, and that now.

    The one place the nesting rule lives: ``deadline()``, :class:`~seawall.Timeout` and a
    Retry's total timeout all open their scopes through it.
    """
    now = clock.now()
    when = now + seconds
    parent = _current.get()
    if parent is not None:
        parent_when = parent.when if parent.clock is clock else now + parent.remaining()
        if parent_when < when:
            when = parent_when
    return Deadline(when, clock, seconds), now


class deadline:
    """Open a deadline scope of ``seconds`` (``with`` or ``async with``).

    Nested scopes take the minimum: an inner scope can shorten the deadline, never extend
    it. ``deadline(None)`` opens no scope and keeps whatever is in force. The scope does
    not cancel anything by itself; it tells every layer below how long it may take.
    """

    __slots__ = ("_clock", "_scope", "_seconds", "_token")

    def __init__(self, seconds: float | timedelta | None, *, clock: Clock | None = None) -> None:
        self._seconds = None if seconds is None else seconds_of(seconds, "deadline")
        self._clock = clock or SYSTEM_CLOCK
        self._token: Token[Deadline | None] | None = None
        self._scope: Deadline | None = None

    def __enter__(self) -> Deadline | None:
        if self._token is not None:
            raise RuntimeError("a deadline scope cannot be entered twice at once")
        if self._seconds is None:
            self._scope = _current.get()
            return self._scope
        self._scope = nearest(self._seconds, self._clock)[0]
        self._token = _current.set(self._scope)
        return self._scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    async def __aenter__(self) -> Deadline | None:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
