"""Every policy decision is an event: a frozen fact delivered to hooks.

Hooks are plain callables ``hook(event)``. They run synchronously on the thread that made
the decision, so they must be quick; an exception in a hook is logged and swallowed, never
allowed to change the outcome of the protected call. The default sink is the stdlib logger
``seawall`` (debug for per-attempt facts, info for retries and timeouts, warning when a
breaker opens), so decisions are visible before anyone wires up metrics.

The success path of a call must stay cheap, so the per-attempt event is only built when
someone listens (:func:`attempt_events_enabled`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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
    "emit",
    "flush",
    "remove_hook",
]

logger = logging.getLogger("seawall")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event carries: which policy kind, which instance, and when (clock seconds)."""

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


RefusalReason = Literal["attempts", "budget", "deadline", "retry_after", "not_retryable"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryRefused(Event):
    """No further attempt will be made after ``attempt`` failed with ``error``, for ``reason``."""

    attempt: int
    reason: RefusalReason
    error: BaseException


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerStateChanged(Event):
    """A circuit breaker moved from ``old`` to ``new`` state, with the window that decided it."""

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


def emit(event: Event) -> None:
    """Deliver ``event`` to the logger and every hook; hooks never break the call."""
    level = _level(event)
    if logger.isEnabledFor(level):
        logger.log(level, "%s[%s]: %s", event.policy, event.name, _describe(event))
    for hook in _hooks:
        try:
            hook(event)
        except Exception:
            logger.exception("seawall event hook %r failed", hook)


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
