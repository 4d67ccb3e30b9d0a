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
from seawall._errors import DeadlineExceeded
from seawall._validate import MAX_SECONDS, optional_seconds, real
from seawall._validate import seconds as checked_seconds

__all__ = [
    "MIN_RESERVE",
    "RESERVE_RATIO",
    "Deadline",
    "current_deadline",
    "deadline",
    "downstream_timeout",
    "enter",
    "remaining",
    "seconds_of",
]

RESERVE_RATIO = 0.10
MIN_RESERVE = 0.050


_INF = float("inf")


def seconds_of(
    value: float | timedelta,
    what: str = "seconds",
    *,
    positive: bool = False,
    infinite: bool = True,
) -> float:
    """Seconds from a number or a ``timedelta``; :class:`~seawall.ConfigError` naming ``what``.

    NaN, negatives, bools, strings and finite values beyond ``MAX_SECONDS`` are rejected;
    ``inf`` ("no limit") is returned as is unless ``infinite=False``.
    """
    return checked_seconds(value, what, positive=positive, infinite=infinite)


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
    """The nearest deadline in force here, or ``None`` (also inside an infinite scope)."""
    scope = _current.get()
    return None if scope is None or scope.when == _INF else scope


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative), or ``None`` without one.

    An infinite scope (``Timeout(inf)``) is no deadline: ``None``, never ``inf``, so code
    below can hand the result to a socket as it is.
    """
    scope = _current.get()
    if scope is None:
        return None
    left = scope.when - scope.clock.now()
    return None if left == _INF else left


def downstream_timeout(
    cap: float | timedelta | None = None,
    *,
    reserve_ratio: float = RESERVE_RATIO,
    min_reserve: float | timedelta = MIN_RESERVE,
) -> float | None:
    """The timeout to give a call made from here: ``min(cap, remaining - reserve)``.

    The reserve (10 % of what is left, at least 50 ms) is what the caller keeps to do
    something useful when the downstream times out. Returns ``cap`` without a deadline (or
    inside an infinite one), ``None`` when there is neither, and never less than 0. An
    infinite ``cap`` is no cap. A NaN, negative, bool or string ``cap`` raises
    :class:`~seawall.ConfigError`: returned as is, it would reach a socket.
    """
    # The common cases (no cap, a plain float cap, the default reserve) cost no call.
    limit: float | None = None
    if cap is not None:
        if type(cap) is float and 0.0 <= cap <= MAX_SECONDS:
            limit = cap
        else:
            limit = optional_seconds(cap, "downstream_timeout cap")
    ratio, floor = RESERVE_RATIO, MIN_RESERVE
    if reserve_ratio is not RESERVE_RATIO or min_reserve is not MIN_RESERVE:
        ratio = real(reserve_ratio, "reserve_ratio", low=0.0, high=1.0, high_open=True)
        floor = seconds_of(min_reserve, "min_reserve", infinite=False)
    scope = _current.get()
    if scope is None:
        return limit
    left = scope.when - scope.clock.now()
    if left == _INF:
        return limit
    budget = left - max(left * ratio, floor)
    if limit is not None and limit < budget:
        budget = limit
    return budget if budget > 0.0 else 0.0


_new = object.__new__


def enter(seconds: float, clock: Clock) -> tuple[Deadline, Token[Deadline | None], float]:
    """Enter the scope ``seconds`` from now, never past the enclosing deadline.

    Returns the scope, the token that leaves it (``_current.reset``) and the time it was
    entered. The one place the nesting rule lives: ``deadline()``, the server edges'
    timeout cores and the gRPC edge open their scopes through it (the driver compiles the
    same rule into its loop).
    """
    now = clock.now()
    when = now + seconds
    parent = _current.get()
    if parent is not None:
        parent_when = parent.when if parent.clock is clock else now + parent.remaining()
        if parent_when < when:
            when = parent_when
    # Built without running __init__: a server edge opens a scope for every request.
    scope = _new(Deadline)
    scope.when = when
    scope.clock = clock
    scope.timeout = seconds
    return scope, _current.set(scope), now


class deadline:
    """Open a deadline scope of ``seconds`` (``with`` or ``async with``).

    Nested scopes take the minimum: an inner scope can shorten the deadline, never extend
    it. ``deadline(None)`` and ``deadline(inf)`` open no scope and keep whatever is in
    force: infinite time is no deadline. The scope does not cancel anything by itself; it
    tells every layer below how long it may take. ``seconds`` is a number or a
    ``timedelta``; NaN, negatives, bools and strings raise :class:`~seawall.ConfigError`.
    """

    __slots__ = ("_clock", "_scope", "_seconds", "_token")

    def __init__(self, seconds: float | timedelta | None, *, clock: Clock | None = None) -> None:
        self._seconds = optional_seconds(seconds, "deadline seconds")
        self._clock = clock or SYSTEM_CLOCK
        self._token: Token[Deadline | None] | None = None
        self._scope: Deadline | None = None

    def __enter__(self) -> Deadline | None:
        if self._token is not None:
            raise RuntimeError("a deadline scope cannot be entered twice at once")
        if self._seconds is None:
            self._scope = _current.get()
            return self._scope
        self._scope, self._token, _ = enter(self._seconds, self._clock)
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
