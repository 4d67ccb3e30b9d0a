"""The one driver: runs any stack of policy cores around a call, sync or async.

A policy is a decision core: it is asked for a decision before the call (admit, reject,
open a deadline) and fed the outcome after it (record, retry after d, stop), and it never
waits. The driver does the rest: it calls the user's function, waits through the
injected :class:`~seawall.Clock` (backoff sleeps, queue waits, deadline alarms) and emits
the events the cores record. A single policy, a :class:`~seawall.Pipeline` and
:func:`~seawall.standard` are all run by it.

A pipeline is compiled once, into *segments*. A segment holds at most one core of each
slot, in the standard order (outermost first)::

    fallback -> total (the operation's deadline) -> retry -> breaker -> bulkhead -> attempt

and :func:`compile_sync` / :func:`compile_async` turn a segment into one function whose
body is the whole loop: one Python frame per call on the success path, no closure or
generator per layer, decisions read as constants. A pipeline in another order, or with
policies that keep their own shell (load shedder, cache, single flight, throttle), is
split into several segments, each calling the next.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from seawall._deadline import _current, nearest
from seawall._errors import ConfigError
from seawall._events import attempt_events_enabled, flush
from seawall._operation import Operation
from seawall._operation import _current as _operation

if TYPE_CHECKING:
    from seawall.policies._base import Policy
    from seawall.policies._breaker import CircuitBreaker
    from seawall.policies._bulkhead import Bulkhead
    from seawall.policies._fallback import Fallback
    from seawall.policies._retry import Retry
    from seawall.policies._timeout import Timeout

__all__ = ["Segment", "chain_async", "chain_sync", "compile_async", "compile_sync", "segments"]

Fn = Callable[..., Any]
AFn = Callable[..., Awaitable[Any]]

# The slots of a segment, outermost first: a policy's ``_layout()`` names the ones it fills.
SLOTS = ("fallback", "total", "retry", "breaker", "bulkhead", "attempt")


class Segment:
    """At most one core per slot, in the standard order; ``shell`` for a policy of its own."""

    __slots__ = ("attempt", "breaker", "bulkhead", "fallback", "retry", "shell", "total")

    def __init__(self) -> None:
        self.fallback: Fallback | None = None
        self.total: Retry | None = None
        self.retry: Retry | None = None
        self.breaker: CircuitBreaker | None = None
        self.bulkhead: Bulkhead | None = None
        self.attempt: Timeout | None = None
        self.shell: Policy | None = None


def segments(policies: tuple[Policy, ...]) -> list[Segment]:
    """Group ``policies`` (outermost first) into as few segments as their order allows."""
    out: list[Segment] = []
    last = len(SLOTS)
    for policy in policies:
        slots = policy._layout()
        if not slots:
            seg = Segment()
            seg.shell = policy
            out.append(seg)
            last = len(SLOTS)
            continue
        if not out or out[-1].shell is not None or SLOTS.index(slots[0]) <= last:
            out.append(Segment())
        for slot in slots:
            setattr(out[-1], slot, policy)
            last = SLOTS.index(slot)
    return out


def compile_sync(seg: Segment, fn: Fn) -> Fn:
    """``fn`` run under the cores of ``seg``: one function, one frame per call."""
    shell = seg.shell
    if shell is not None:
        guard = shell._guard

        def shelled(*args: Any, **kwargs: Any) -> Any:
            return guard(fn, args, kwargs)

        return shelled
    # The cores, typed loosely: each is None or present, and the body checks before use.
    fallback: Any = seg.fallback
    total: Any = seg.total
    retry: Any = seg.retry
    breaker: Any = seg.breaker
    bulkhead: Any = seg.bulkhead
    attempt: Any = seg.attempt
    t_clock: Any = total._clock if total is not None else None
    t_seconds: Any = total._total_seconds if total is not None else None
    r_sleep: Any = retry._clock.sleep if retry is not None else None
    budget: Any = retry.budget if retry is not None else None
    b_now: Any = breaker._now if breaker is not None else None
    b_lock: Any = breaker._lock if breaker is not None else None
    b_window: Any = breaker._window if breaker is not None else None
    b_timed = breaker is not None and breaker.slow_call_duration is not None
    tokens: Any = bulkhead._tokens if bulkhead is not None else None
    waiters: Any = bulkhead._waiters if bulkhead is not None else None
    a_clock: Any = attempt._clock if attempt is not None else None
    a_seconds = attempt.seconds if attempt is not None else 0.0
    current = _current
    from seawall.policies._breaker import CLOSED

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            # -- the operation's deadline ----------------------------------------------
            outer: Any
            if total is not None:
                outer, now = nearest(t_seconds, t_clock)
                if outer.when <= now:
                    raise total._expired(outer)
                scope_token = current.set(outer)
            else:
                outer, scope_token = current.get(), None
            try:
                # -- the retry loop ----------------------------------------------------
                op: Operation | None = None
                if retry is not None:
                    op = Operation()
                    op_token = _operation.set(op)
                    if budget is not None:
                        budget.deposit()
                previous: float | None = None
                try:
                    while True:
                        if op is not None and (op.attempt > 1 or attempt_events_enabled()):
                            retry._started(op.attempt)
                        try:
                            # -- one attempt: breaker, bulkhead, attempt deadline ------
                            if breaker is not None:
                                gen = breaker._gen
                                if breaker._state is not CLOSED:
                                    gen = breaker.admit()
                                    flush(breaker)
                                    if gen.__class__ is not int:
                                        raise gen
                                start = b_now() if b_timed else 0.0
                            try:
                                if bulkhead is not None:
                                    if waiters or not tokens:
                                        bulkhead.acquire()
                                    else:
                                        try:
                                            tokens.pop()
                                            bulkhead._admitted += 1
                                        except IndexError:
                                            bulkhead.acquire()
                                try:
                                    if attempt is not None:
                                        scope, now = nearest(a_seconds, a_clock)
                                        if scope.when <= now:
                                            raise attempt._expired(scope)
                                        token = current.set(scope)
                                        try:
                                            result = fn(*args, **kwargs)
                                        except TimeoutError as exc:
                                            mapped = attempt._own(exc, scope)
                                            if mapped is exc:
                                                raise
                                            raise mapped from exc
                                        finally:
                                            current.reset(token)
                                        if a_clock.now() > scope.when:
                                            raise attempt._expired(scope)
                                    else:
                                        result = fn(*args, **kwargs)
                                finally:
                                    if bulkhead is not None:
                                        tokens.append(None)
                                        if waiters:
                                            bulkhead._hand_over()
                            except BaseException as exc:
                                if breaker is not None:
                                    breaker.failed(exc, gen, start)
                                    flush(breaker)
                                raise
                            if breaker is not None:
                                now = b_now()
                                b_lock.acquire()
                                if not b_timed and gen == breaker._gen and breaker._state is CLOSED:
                                    b_window.success(now)
                                    tripped = b_window.failures and breaker._tripped(b_window)
                                    b_lock.release()
                                    if tripped:
                                        breaker.succeeded(gen, now, record=False)
                                        flush(breaker)
                                else:
                                    b_lock.release()
                                    breaker.succeeded(gen, start)
                                    flush(breaker)
                            break
                        except Exception as exc:
                            if op is None:
                                raise
                            delay = retry.decide(exc, op.attempt, previous, outer)
                            flush(retry)
                            if delay is None:
                                raise
                        r_sleep(delay)
                        previous = delay
                        op.attempt += 1
                finally:
                    if op is not None:
                        _operation.reset(op_token)
            except TimeoutError as exc:
                if scope_token is None:
                    raise
                mapped = total._own(exc, outer)
                if mapped is exc:
                    raise
                raise mapped from exc
            finally:
                if scope_token is not None:
                    current.reset(scope_token)
            if scope_token is not None and t_clock.now() > outer.when:
                raise total._expired(outer)
            return result
        except Exception as exc:
            if fallback is None or not fallback._on(exc):
                raise
            value = fallback._use(exc)
            if inspect.isawaitable(value):
                raise ConfigError(
                    "an async fallback factory needs acall() or an async function"
                ) from None
            return value

    return run


def compile_async(seg: Segment, fn: AFn) -> AFn:
    """The async form of :func:`compile_sync`: deadlines cancel the awaited call."""
    shell = seg.shell
    if shell is not None:
        aguard = shell._aguard

        async def shelled(*args: Any, **kwargs: Any) -> Any:
            return await aguard(fn, args, kwargs)

        return shelled
    # The cores, typed loosely: each is None or present, and the body checks before use.
    fallback: Any = seg.fallback
    total: Any = seg.total
    retry: Any = seg.retry
    breaker: Any = seg.breaker
    bulkhead: Any = seg.bulkhead
    attempt: Any = seg.attempt
    t_clock: Any = total._clock if total is not None else None
    t_seconds: Any = total._total_seconds if total is not None else None
    r_asleep: Any = retry._clock.asleep if retry is not None else None
    budget: Any = retry.budget if retry is not None else None
    b_now: Any = breaker._now if breaker is not None else None
    b_lock: Any = breaker._lock if breaker is not None else None
    b_window: Any = breaker._window if breaker is not None else None
    b_timed = breaker is not None and breaker.slow_call_duration is not None
    tokens: Any = bulkhead._tokens if bulkhead is not None else None
    waiters: Any = bulkhead._waiters if bulkhead is not None else None
    a_clock: Any = attempt._clock if attempt is not None else None
    a_seconds = attempt.seconds if attempt is not None else 0.0
    current = _current
    from seawall.policies._breaker import CLOSED

    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            # -- the operation's deadline: an alarm cancels the task when it passes,
            # unless each attempt arms its own (never later than this one).
            alarm = None
            outer: Any
            if total is not None:
                outer, now = nearest(t_seconds, t_clock)
                if outer.when <= now:
                    raise total._expired(outer)
                scope_token = current.set(outer)
                if attempt is None:
                    alarm = t_clock.cancel_at(outer.when)
            else:
                outer, scope_token = current.get(), None
            try:
                op: Operation | None = None
                if retry is not None:
                    op = Operation()
                    op_token = _operation.set(op)
                    if budget is not None:
                        budget.deposit()
                previous: float | None = None
                try:
                    while True:
                        if op is not None and (op.attempt > 1 or attempt_events_enabled()):
                            retry._started(op.attempt)
                        try:
                            if breaker is not None:
                                gen = breaker._gen
                                if breaker._state is not CLOSED:
                                    gen = breaker.admit()
                                    flush(breaker)
                                    if gen.__class__ is not int:
                                        raise gen
                                start = b_now() if b_timed else 0.0
                            try:
                                if bulkhead is not None:
                                    if waiters or not tokens:
                                        await bulkhead.aacquire()
                                    else:
                                        try:
                                            tokens.pop()
                                            bulkhead._admitted += 1
                                        except IndexError:
                                            await bulkhead.aacquire()
                                try:
                                    if attempt is not None:
                                        scope, now = nearest(a_seconds, a_clock)
                                        if scope.when <= now:
                                            raise attempt._expired(scope)
                                        token = current.set(scope)
                                        own = a_clock.cancel_at(scope.when)
                                        try:
                                            result = await fn(*args, **kwargs)
                                        except asyncio.CancelledError as exc:
                                            if own.fired and own.task.uncancel() == 0:
                                                # An attempt cut short by the operation's
                                                # own deadline is the operation's timeout.
                                                if total is not None and outer.when <= scope.when:
                                                    raise total._expired(outer, exc) from None
                                                raise attempt._expired(scope, exc) from None
                                            raise
                                        except TimeoutError as exc:
                                            mapped = attempt._own(exc, scope)
                                            if mapped is exc:
                                                raise
                                            raise mapped from exc
                                        finally:
                                            own.disarm()
                                            current.reset(token)
                                        if own.fired:  # the work swallowed the cancellation
                                            own.task.uncancel()
                                            raise attempt._expired(scope)
                                        if a_clock.now() > scope.when:
                                            raise attempt._expired(scope)
                                    else:
                                        result = await fn(*args, **kwargs)
                                finally:
                                    if bulkhead is not None:
                                        tokens.append(None)
                                        if waiters:
                                            bulkhead._hand_over()
                            except BaseException as exc:
                                if breaker is not None:
                                    breaker.failed(exc, gen, start)
                                    flush(breaker)
                                raise
                            if breaker is not None:
                                now = b_now()
                                b_lock.acquire()
                                if not b_timed and gen == breaker._gen and breaker._state is CLOSED:
                                    b_window.success(now)
                                    tripped = b_window.failures and breaker._tripped(b_window)
                                    b_lock.release()
                                    if tripped:
                                        breaker.succeeded(gen, now, record=False)
                                        flush(breaker)
                                else:
                                    b_lock.release()
                                    breaker.succeeded(gen, start)
                                    flush(breaker)
                            break
                        except Exception as exc:
                            if op is None:
                                raise
                            delay = retry.decide(exc, op.attempt, previous, outer)
                            flush(retry)
                            if delay is None:
                                raise
                        await r_asleep(delay)
                        previous = delay
                        op.attempt += 1
                finally:
                    if op is not None:
                        _operation.reset(op_token)
            except asyncio.CancelledError as exc:
                if alarm is not None and alarm.fired and alarm.task.uncancel() == 0:
                    raise total._expired(outer, exc) from None
                raise
            except TimeoutError as exc:
                if scope_token is None:
                    raise
                mapped = total._own(exc, outer)
                if mapped is exc:
                    raise
                raise mapped from exc
            finally:
                if alarm is not None:
                    alarm.disarm()
                if scope_token is not None:
                    current.reset(scope_token)
            if alarm is not None and alarm.fired:  # the work swallowed the cancellation
                alarm.task.uncancel()
                raise total._expired(outer)
            if scope_token is not None and t_clock.now() > outer.when:
                raise total._expired(outer)
            return result
        except Exception as exc:
            if fallback is None or not fallback._on(exc):
                raise
            value = fallback._use(exc)
            if inspect.isawaitable(value):
                value = await value
            return value

    return run


def chain_sync(policies: tuple[Policy, ...], fn: Fn) -> Fn:
    """``fn`` under ``policies`` (outermost first), compiled segment by segment."""
    for seg in reversed(segments(policies)):
        fn = compile_sync(seg, fn)
    return fn


def chain_async(policies: tuple[Policy, ...], fn: AFn) -> AFn:
    for seg in reversed(segments(policies)):
        fn = compile_async(seg, fn)
    return fn
