"""Every policy decision is an event: a frozen fact delivered to hooks.

Hooks are plain callables ``hook(event)``. They run synchronously on the thread that made
the decision, so they must be quick; an exception in a hook is logged and swallowed, never
allowed to change the outcome of the protected call. The default sink is the stdlib logger
``seawall`` (debug for per-attempt facts, info for retries and timeouts, warning when a
breaker opens), so decisions are visible before anyone wires up metrics.

The success path of a call must stay cheap, so the per-attempt event is only built when
someone listens (:func:`attempt_events_enabled`).

During an outage the same decision repeats for every call: an open breaker rejects
hundreds of calls a second. The log must stay readable then, so repeated identical
decisions of one policy are written once per second: the first at once, the rest as
one line with a count when the second is over (``... (486 more within 1s)``). State
changes (a breaker opening, a leader elected) are never folded: each one is a fact an
operator needs. Hooks still receive every event; only the log lines are folded, and
only when the logger would write them, so the hot path pays nothing when logging is
filtered out.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from seawall._errors import Rejected

__all__ = [
    "AttemptStarted",
    "BreakerStateChanged",
    "CallRejected",
    "Event",
    "FallbackUsed",
    "Hook",
    "RetryRefused",
    "RetryScheduled",
    "TimedOut",
    "add_hook",
    "attempt_events_enabled",
    "clear_repeats",
    "emit",
    "flush",
    "flush_repeats",
    "rejection",
    "remove_hook",
    "set_span_sink",
]

logger = logging.getLogger("seawall")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event carries: which policy kind, which instance, and when (clock seconds).

    ``folds`` says whether identical events of one policy within a second may share one
    log line with a count; a state change sets it to ``False``.
    """

    folds: ClassVar[bool] = True

    policy: str
    name: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptStarted(Event):
    """Attempt number ``attempt`` (1-based) of a retried operation is starting."""

    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryScheduled(Event):
    """Attempt ``attempt`` failed with ``error``; the next one starts after ``delay`` seconds."""

    attempt: int
    delay: float
    error: BaseException


RefusalReason = Literal[
    "attempts", "budget", "deadline", "retry_after", "not_retryable", "rejected"
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryRefused(Event):
    """No further attempt will be made after ``attempt`` failed with ``error``, for ``reason``."""

    attempt: int
    reason: RefusalReason
    error: BaseException


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerStateChanged(Event):
    """A circuit breaker moved from ``old`` to ``new`` state, with the window that decided it."""

    folds: ClassVar[bool] = False

    old: str
    new: str
    failure_rate: float | None = None
    slow_call_rate: float | None = None
    calls: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRejected(Event):
    """A call was refused without running (breaker open, bulkhead full, load shed)."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOut(Event):
    """A call ran past its deadline; ``timeout`` is the scope's budget in seconds, if known."""

    timeout: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackUsed(Event):
    """A fallback answered instead of the protected call, which failed with ``error``."""

    error: BaseException


Hook = Callable[[Event], None]

_lock = threading.Lock()
# Copy-on-write: emitters iterate a tuple that never changes under them.
_hooks: tuple[Hook, ...] = ()


# Spans (seawall.metrics) hear every event too, without being a hook: a hook makes the
# driver build a per-attempt event for every call, which spans do not need.
_span_sink: Hook | None = None


def set_span_sink(sink: Hook | None) -> None:
    """Tell ``sink`` every event after the hooks (tracing's span events); None stops it."""
    global _span_sink
    _span_sink = sink


def add_hook(hook: Hook) -> Callable[[], None]:
    """Register ``hook`` for every event; returns a function that removes it again."""
    global _hooks
    with _lock:
        _hooks = (*_hooks, hook)
    return lambda: remove_hook(hook)


def remove_hook(hook: Hook) -> None:
    """Unregister ``hook``; removing a hook that is not registered is a no-op."""
    global _hooks
    with _lock:
        hooks = list(_hooks)
        if hook in hooks:
            hooks.remove(hook)
        _hooks = tuple(hooks)


_debug_enabled = functools.partial(logger.isEnabledFor, logging.DEBUG)


def attempt_events_enabled() -> bool:
    """Whether anyone listens for per-attempt events (hot path guard)."""
    return bool(_hooks) or _debug_enabled()


def _level(event: Event) -> int:
    if isinstance(event, BreakerStateChanged):
        return logging.WARNING if event.new in ("open", "forced_open") else logging.INFO
    if isinstance(event, (AttemptStarted, CallRejected)):
        return logging.DEBUG
    return logging.INFO


def _describe(event: Event) -> str:
    match event:
        case AttemptStarted(attempt=n):
            return f"attempt {n} started"
        case RetryScheduled(attempt=n, delay=d, error=e):
            return f"attempt {n} failed ({e!r}); retrying in {d:.3f}s"
        case RetryRefused(attempt=n, reason="rejected", error=e):
            return f"not retrying after attempt {n}: {rejection(e)}"
        case RetryRefused(attempt=n, reason=r, error=e):
            return f"not retrying after attempt {n} ({r}): {e!r}"
        case BreakerStateChanged(old=o, new=n, failure_rate=fr, calls=c):
            rate = "" if fr is None else f" failure rate {fr:.0%} over {c} calls"
            return f"circuit {o} -> {n}{rate}"
        case CallRejected(reason=r, retry_after=ra):
            after = "" if ra is None else f"; retry after {ra:.3f}s"
            return f"call rejected: {r}{after}"
        case TimedOut(timeout=t):
            return f"timed out after {t}s" if t is not None else "deadline exceeded"
        case FallbackUsed(error=e):
            return f"fallback used after {e!r}"
    return repr(event)


_REJECTIONS = {
    "circuit_breaker": "circuit open",
    "bulkhead": "bulkhead full",
    "load_shedder": "shed",
    "rate_limiter": "rate limited",
}


def rejection(exc: BaseException) -> str:
    """What a person reads for a refused call: "circuit open", "bulkhead full", "shed"."""
    if not isinstance(exc, Rejected):
        return repr(exc)
    what = _REJECTIONS.get(exc.policy, f"rejected by {exc.policy}")
    after = "" if exc.retry_after is None else f"; retry after {exc.retry_after:.3f}s"
    return f"{what} ({exc.name}){after}"


# Identical decisions of one policy within this many seconds share one log line.
REPEAT_WINDOW = 1.0
# Distinct (policy, decision) pairs tracked at once; more are written out and forgotten.
_MAX_REPEAT_KEYS = 1024


@dataclass(slots=True)
class _Repeats:
    """One (policy, decision) pair's current window: events not yet written, and the last."""

    start: float
    level: int
    count: int = 0
    last: Event | None = None
    first_written: bool = True


_repeats: dict[tuple[object, ...], _Repeats] = {}
_repeats_lock = threading.Lock()


def _decision(event: Event) -> tuple[object, ...]:
    """What makes two events "the same decision": kind, policy, and the reason without
    numbers (a rejection's ``retry_after`` or a throttle's probability change per call)."""
    match event:
        case CallRejected():
            variant: object = None
        case RetryRefused(reason=r, error=e):
            variant = (r, type(e))
        case RetryScheduled(error=e) | FallbackUsed(error=e):
            variant = type(e)
        case _:
            variant = next(
                (
                    v
                    for v in (getattr(event, f, None) for f in ("outcome", "reason", "fault"))
                    if isinstance(v, str)
                ),
                None,
            )
    return (type(event), event.policy, event.name, variant)


def _write(level: int, event: Event, count: int = 0, first_written: bool = True) -> None:
    if count == 0:
        logger.log(level, "%s[%s]: %s", event.policy, event.name, _describe(event))
    else:
        times = f"{count} more" if first_written else f"{count} times"
        logger.log(
            level,
            "%s[%s]: %s (%s within %gs)",
            event.policy,
            event.name,
            _describe(event),
            times,
            REPEAT_WINDOW,
        )


def _flush(state: _Repeats) -> None:
    if state.count and state.last is not None:
        _write(state.level, state.last, state.count, state.first_written)


def flush_repeats() -> None:
    """Write the count line of every window still open (at exit, or before a report)."""
    with _repeats_lock:
        pending = list(_repeats.values())
        _repeats.clear()
    for state in pending:
        _flush(state)


atexit.register(flush_repeats)


def clear_repeats() -> None:
    """Forget every open window without writing it (a test starting afresh)."""
    with _repeats_lock:
        _repeats.clear()


def _log(event: Event, level: int) -> None:
    if not event.folds:
        _write(level, event)
        return
    key = _decision(event)
    at = event.at
    due: list[_Repeats] = []
    with _repeats_lock:
        state = _repeats.get(key)
        if state is not None and state.start <= at < state.start + REPEAT_WINDOW:
            state.count += 1
            state.last = event
            return
        # A new window: the first event of a quiet spell is written at once; during a
        # flood (the last window folded something) it only starts the next count.
        flooding = state is not None and state.count > 0 and at >= state.start
        if state is not None:
            due.append(state)
        _repeats[key] = _Repeats(
            start=at,
            level=level,
            count=1 if flooding else 0,
            last=event if flooding else None,
            first_written=not flooding,
        )
        # Windows of other decisions that are over by this clock reading are written out,
        # so a flood that stopped still gets its count line without waiting for exit.
        for other_key, other in list(_repeats.items()):
            if other is not _repeats[key] and (
                at >= other.start + REPEAT_WINDOW or len(_repeats) > _MAX_REPEAT_KEYS
            ):
                due.append(other)
                del _repeats[other_key]
    for old in due:
        _flush(old)
    if not flooding:
        _write(level, event)


def emit(event: Event) -> None:
    """Deliver ``event`` to the logger and every hook; hooks never break the call."""
    level = _level(event)
    if logger.isEnabledFor(level):
        _log(event, level)
    for hook in _hooks:
        try:
            hook(event)
        except Exception:
            logger.exception("seawall event hook %r failed", hook)
    sink = _span_sink
    if sink is not None:
        try:
            sink(event)
        except Exception:
            logger.exception("seawall span events failed")


def flush(core: Any) -> None:
    """Emit the events a decision core recorded, in order.

    Cores record what they decided (a state change, a rejection) on their ``_events``
    list and never call hooks themselves; the driver flushes them after the decision.
    """
    events: list[Event] = core._events
    while events:
        try:
            event = events.pop(0)
        except IndexError:
            return
        emit(event)
