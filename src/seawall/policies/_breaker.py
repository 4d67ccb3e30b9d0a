"""CircuitBreaker: stop calling a dependency that is failing, and probe it back to health.

States and their legal edges (``BreakerStateChanged`` events follow only these)::

    closed ──(failure or slow-call rate ≥ threshold, once min_calls seen)──▶ open
    open ──(cooldown elapsed, on the next call)──▶ half_open
    half_open ──(probe failure rate < threshold)──▶ closed
    half_open ──(probe failure rate ≥ threshold)──▶ open
    any ──(operator: force_open / disable / metrics_only / reset)──▶ forced_open | disabled
                                                                    | metrics_only | closed

The decision logic is a small state machine fed outcomes and clock readings; the driver
(:mod:`seawall._drive`) asks it for a permit before the call, reports the outcome after,
and emits the events it records. The lock guards
that bookkeeping and is **never held while the protected call runs** — pybreaker's known
flaw is a lock around the call, which serialises every caller behind a slow dependency.
In the closed state admission takes no lock at all.

By default every ``Exception`` is a failure except :class:`~seawall.Rejected`: a full
bulkhead or a shed request says nothing about the dependency's health. Cancellation and
other ``BaseException`` s are neither success nor failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import CircuitOpen, ConfigError, Rejected
from seawall._events import BreakerStateChanged, CallRejected, Event, flush
from seawall._validate import MAX_COUNT, callable_or_none, count, optional_seconds, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Policy
from seawall.policies._window import CountWindow, TimeWindow, Window

__all__ = [
    "CLOSED",
    "DISABLED",
    "FORCED_OPEN",
    "HALF_OPEN",
    "LEGAL_TRANSITIONS",
    "METRICS_ONLY",
    "OPEN",
    "BreakerStats",
    "CircuitBreaker",
]

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"
FORCED_OPEN: Final = "forced_open"
DISABLED: Final = "disabled"
METRICS_ONLY: Final = "metrics_only"

State = Literal["closed", "open", "half_open", "forced_open", "disabled", "metrics_only"]

_AUTOMATIC = {(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED), (HALF_OPEN, OPEN)}
_MANUAL_TARGETS = (FORCED_OPEN, DISABLED, METRICS_ONLY, CLOSED)
_STATES = (CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED, METRICS_ONLY)
LEGAL_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    _AUTOMATIC | {(a, b) for a in _STATES for b in _MANUAL_TARGETS if a != b}
)
MAX_TIME_WINDOW = 86_400.0  # seconds; the time window allocates a bucket per second


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A snapshot of a breaker: its state and the window that decides it."""

    name: str
    state: str
    calls: int
    failures: int
    slow_calls: int
    failure_rate: float | None
    slow_call_rate: float | None
    retry_after: float | None


def _never(exc: BaseException) -> bool:
    return False


def _always(exc: BaseException) -> bool:
    return True


class CircuitBreaker(Policy):
    """Fail fast while a dependency is failing; probe it with a few calls before trusting it.

    ``window`` is seconds for ``window_type="time"`` (1 s buckets) or a number of calls for
    ``window_type="count"``. Thresholds apply only once ``min_calls`` calls are in the
    window. ``slow_call_duration`` (seconds) makes slow successes count towards
    ``slow_call_rate`` (``None`` or ``inf``: no call is slow). A time window is 1 s to a
    day; ``cooldown`` is finite (an endless one is :meth:`force_open`).
    """

    __slots__ = (
        "_clock",
        "_events",
        "_gen",
        "_ignore",
        "_lock",
        "_now",
        "_open_until",
        "_other_successes",
        "_probe_done",
        "_probe_failed",
        "_probe_slow",
        "_probes",
        "_record",
        "_state",
        "_window",
        "_window_failures",
        "calls_failure",
        "calls_ignored",
        "calls_rejected",
        "calls_slow",
        "cooldown",
        "failure_rate",
        "half_open_calls",
        "min_calls",
        "name",
        "slow_call_duration",
        "slow_call_rate",
        "transitions",
        "window",
        "window_type",
    )

    def _layout(self) -> tuple[str, ...]:
        return ("breaker",)

    def __init__(
        self,
        name: str = "breaker",
        *,
        failure_rate: float = 0.5,
        window: float | timedelta = 30.0,
        window_type: Literal["time", "count"] = "time",
        min_calls: int = 20,
        cooldown: float | timedelta = 30.0,
        half_open_calls: int = 3,
        slow_call_duration: float | timedelta | None = None,
        slow_call_rate: float = 1.0,
        record: Callable[[BaseException], bool] | None = None,
        ignore: Callable[[BaseException], bool] | None = None,
        clock: Clock | None = None,
    ) -> None:
        failure_rate = real(failure_rate, "failure_rate", low=0.0, high=1.0, low_open=True)
        slow_call_rate = real(slow_call_rate, "slow_call_rate", low=0.0, high=1.0, low_open=True)
        min_calls = count(min_calls, "min_calls")
        half_open_calls = count(half_open_calls, "half_open_calls")
        callable_or_none(record, "record")
        callable_or_none(ignore, "ignore")
        self.name = policy_name(name)
        self.failure_rate = failure_rate
        self.slow_call_rate = slow_call_rate
        # An infinite slow-call duration marks no call slow: the same as None.
        self.slow_call_duration = optional_seconds(slow_call_duration, "slow_call_duration")
        # An endless cooldown would never probe again: that is force_open().
        self.cooldown = seconds(cooldown, "cooldown", infinite=False)
        self.half_open_calls = half_open_calls
        self.window_type = window_type
        self._clock = clock or SYSTEM_CLOCK
        self._now = self._clock.now
        self._window: Window
        if window_type == "time":
            # One bucket per second is allocated up front: a day is the longest window.
            self.window: float = seconds(window, "window", infinite=False)
            if not 1.0 <= self.window <= MAX_TIME_WINDOW:
                raise ConfigError(
                    f"a time window must be 1 s to {MAX_TIME_WINDOW:g} s (a day), got {window!r}"
                )
            self._window = TimeWindow(self.window, self._now())
            self.min_calls = min_calls
        elif window_type == "count":
            self.window = window = count(window, "window (a number of calls)", maximum=MAX_COUNT)
            self._window = CountWindow(window)
            self.min_calls = min(min_calls, window)
        else:
            raise ConfigError(f"window_type must be 'time' or 'count', got {window_type!r}")
        self._record = record or _always
        self._ignore = ignore or _never
        self._lock = threading.Lock()
        self._state: str = CLOSED
        self._gen = 0
        self._open_until = 0.0
        self._probes = 0
        self._probe_done = 0
        self._probe_failed = 0
        self._probe_slow = 0
        self._events: list[Event] = []  # recorded decisions, emitted by the driver
        # Counters, as plain fields read without the lock. A fast success in the closed
        # state is counted by the window alone (see calls_success).
        self.calls_failure = 0
        self.calls_ignored = 0  # ended with no verdict: ignored, rejected below, cancelled
        self.calls_rejected = 0
        self.calls_slow = 0
        self.transitions: dict[tuple[str, str], int] = {}
        self._window_failures = 0
        self._other_successes = 0

    # -- the state machine -------------------------------------------------------------

    @property
    def state(self) -> str:
        """closed, open, half_open, forced_open, disabled or metrics_only."""
        state = self._state
        if state == OPEN and self._now() >= self._open_until:
            return HALF_OPEN  # it becomes half-open on the next call
        return state

    def _move(self, new: str, now: float) -> None:
        """Change state (lock held), recording the event for the driver to emit.

        The event carries the numbers that decided the move: the window when leaving
        closed or metrics_only, the probes when leaving half_open, nothing otherwise.
        Every move starts a new generation: an outcome reported with an older generation
        belongs to a call admitted in an earlier state and is ignored.
        """
        old = self._state
        w = self._window
        rate: float | None = None
        slow_rate: float | None = None
        calls = 0
        if old in (CLOSED, METRICS_ONLY) and w.calls:
            calls = w.calls
            rate, slow_rate = w.failures / calls, w.slow / calls
        elif old == HALF_OPEN and self._probe_done:
            calls = self._probe_done
            rate, slow_rate = self._probe_failed / calls, self._probe_slow / calls
        self._events.append(
            BreakerStateChanged(
                policy="circuit_breaker",
                name=self.name,
                at=now,
                old=old,
                new=new,
                failure_rate=rate,
                slow_call_rate=slow_rate,
                calls=calls,
            )
        )
        self.transitions[old, new] = self.transitions.get((old, new), 0) + 1
        self._state = new
        self._gen += 1
        self._probes = self._probe_done = self._probe_failed = self._probe_slow = 0
        if new == OPEN:
            self._open_until = now + self.cooldown
        if new in (CLOSED, METRICS_ONLY):
            w.reset()

    def admit(self) -> int | CircuitOpen:
        """A permit for one call, or the rejection to raise.

        The permit is the generation of the state that admitted the call (in half_open
        every admitted call is a probe); report the call's outcome with it.
        """
        now = self._now()
        with self._lock:
            state = self._state
            if state == OPEN and now >= self._open_until:
                self._move(HALF_OPEN, now)
                state = HALF_OPEN
            if state == HALF_OPEN and self._probes < self.half_open_calls:
                self._probes += 1
                return self._gen
            if state in (CLOSED, METRICS_ONLY, DISABLED):
                return self._gen
            self.calls_rejected += 1
            if state == OPEN:
                retry_after: float | None = self._open_until - now
            elif state == HALF_OPEN:
                retry_after = min(self.cooldown, 1.0)
            else:
                retry_after = None
            self._events.append(
                CallRejected(
                    policy="circuit_breaker",
                    name=self.name,
                    at=now,
                    reason=f"circuit {state}",
                    retry_after=retry_after,
                )
            )
        after = "" if retry_after is None else f"; retry after {retry_after:.3f}s"
        return CircuitOpen(
            self.name, f"circuit {self.name!r} is {state}{after}", retry_after=retry_after
        )

    def _outcome(self, gen: int, start: float, failed: bool, *, record: bool = True) -> None:
        now = self._now()
        limit = self.slow_call_duration
        slow = limit is not None and now - start >= limit
        with self._lock:
            self.calls_failure += failed
            self.calls_slow += slow
            if gen != self._gen:
                # The call was admitted in an earlier state; its outcome is stale.
                self._other_successes += record and not failed
                return
            state = self._state
            if state == HALF_OPEN:
                self._other_successes += not failed
                self._probe_done += 1
                self._probe_failed += failed
                self._probe_slow += slow
                if self._probe_done >= self.half_open_calls:
                    done = self._probe_done
                    healthy = self._probe_failed / done < self.failure_rate and (
                        limit is None or self._probe_slow / done < self.slow_call_rate
                    )
                    self._move(CLOSED if healthy else OPEN, now)
            elif state in (CLOSED, METRICS_ONLY):
                w = self._window
                if record:
                    w.add(now, failed, slow)
                    self._window_failures += failed
                if state == CLOSED and (w.failures or w.slow) and self._tripped(w):
                    self._move(OPEN, now)
            else:  # disabled: let through, recorded nowhere else
                self._other_successes += record and not failed

    def succeeded(self, gen: int, start: float, *, record: bool = True) -> None:
        """Report a call that returned (``record=False``: counted already, re-check only)."""
        self._outcome(gen, start, False, record=record)

    def failed(self, exc: BaseException, gen: int, start: float) -> None:
        """Report a call that raised ``exc``; only some errors count as failures.

        A rejection, an ignored error or a cancellation is no verdict on the dependency:
        a probe permit it held is given back for another call.
        """
        if not isinstance(exc, Exception) or isinstance(exc, Rejected) or self._ignore(exc):
            self.calls_ignored += 1
            if self._state == HALF_OPEN:
                with self._lock:
                    if gen == self._gen and self._state == HALF_OPEN:
                        self._probes -= 1
        else:
            self._outcome(gen, start, self._record(exc))

    @property
    def calls_success(self) -> int:
        """Calls that returned: the window's record, plus probes and calls not recorded."""
        return self._window.recorded - self._window_failures + self._other_successes

    def _tripped(self, w: Window) -> bool:
        """Whether the closed-state window crossed a threshold (lock held)."""
        limit = self.slow_call_duration
        calls = w.calls
        return calls >= self.min_calls and (
            w.failures >= self.failure_rate * calls
            or (limit is not None and w.slow >= self.slow_call_rate * calls)
        )

    # -- operator controls and introspection -----------------------------------------

    def _force(self, new: str) -> None:
        now = self._now()
        with self._lock:
            if self._state != new:
                self._move(new, now)
        flush(self)

    def force_open(self) -> None:
        """Reject every call until :meth:`reset` (maintenance, a known-bad dependency)."""
        self._force(FORCED_OPEN)

    def disable(self) -> None:
        """Let every call through and record nothing until :meth:`reset`."""
        self._force(DISABLED)

    def metrics_only(self) -> None:
        """Let every call through but keep recording (to tune thresholds safely)."""
        self._force(METRICS_ONLY)

    def reset(self) -> None:
        """Back to closed with an empty window."""
        self._force(CLOSED)

    def statistics(self) -> BreakerStats:
        now = self._now()
        with self._lock:
            w = self._window
            w.refresh(now)
            state = self.state
            return BreakerStats(
                name=self.name,
                state=state,
                calls=w.calls,
                failures=w.failures,
                slow_calls=w.slow,
                failure_rate=(w.failures / w.calls) if w.calls else None,
                slow_call_rate=(w.slow / w.calls) if w.calls else None,
                retry_after=max(self._open_until - now, 0.0) if state == OPEN else None,
            )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r})"
