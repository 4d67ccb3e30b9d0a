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
policies outside the standard slots (load shedder, throttle, cache, single flight), is
split into several segments, each calling the next. A gate core (load shedder, adaptive
throttle: admit, queue or refuse the whole call) is run by the gate form of the driver,
:mod:`seawall._gate`.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import linecache
import re
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from logging import DEBUG
from typing import Any, Protocol, TypeVar, cast

from seawall import _events as events
from seawall._deadline import Deadline, _current
from seawall._errors import ConfigError
from seawall._events import attempt_events_enabled, flush, logger
from seawall._gate import Gate, gate_async, gate_sync
from seawall._operation import FirstAttempt, Operation
from seawall._operation import _current as _operation
from seawall._prune import prune
from seawall.policies._window import TimeWindow

# The logger's own cache of "is DEBUG enabled": a dict lookup, not a Python call, on
# every retried call; logging clears it in place when levels change.
_debug_cache: dict[int, bool] = logger._cache  # type: ignore[attr-defined]
CLOSED = "closed"  # the breaker's closed state, compared by identity on the hot path

__all__ = [
    "CLIENT_ATTEMPT",
    "TRACED",
    "Layer",
    "Segment",
    "Tracing",
    "chain_async",
    "chain_sync",
    "client_attempt",
    "compile_async",
    "compile_sync",
    "segments",
    "tracing",
    "untraced_async",
    "untraced_sync",
]

Fn = Callable[..., Any]
AFn = Callable[..., Awaitable[Any]]

# The slots of a segment, outermost first: a policy's ``_layout()`` names the ones it fills.
SLOTS = ("fallback", "total", "retry", "breaker", "bulkhead", "attempt")


class Layer(Protocol):
    """What the driver needs of a policy to place it: the slots it fills, or its shell."""

    def _layout(self) -> tuple[str, ...]: ...

    def _guard(self, fn: Fn, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...

    async def _aguard(self, fn: AFn, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...


class Segment:
    """At most one core per slot, in the standard order; ``shell`` for a policy of its own."""

    __slots__ = ("attempt", "breaker", "bulkhead", "fallback", "retry", "shell", "total", "traced")

    def __init__(self) -> None:
        # The cores are typed loosely here: this module sits below the policies it runs
        # (they import it), and each template checks a slot's flag before using it.
        self.fallback: Any = None
        self.total: Any = None
        self.retry: Any = None
        self.breaker: Any = None
        self.bulkhead: Any = None
        self.attempt: Any = None
        self.shell: Layer | None = None
        self.traced: Any = None  # this segment's driver without the tracing check, once traced


def segments(policies: tuple[Layer, ...]) -> list[Segment]:
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


# Which parts a compiled driver has. The templates below test these names; compiling a
# segment replaces each with True or False, and the compiler drops the dead branches, so
# a lone breaker pays for no retry loop and standard() for no fallback. As written (all
# True) the templates are ordinary Python that the type checker and linters read.
FALLBACK = TOTAL = RETRY = BUDGET = BREAKER = TIMED = TIME_WINDOW = BULKHEAD = ATTEMPT = True
TRACE = True  # off only in the driver a traced call runs (untraced_sync/untraced_async)
_FLAGS = (
    "FALLBACK",
    "TOTAL",
    "RETRY",
    "BUDGET",
    "BREAKER",
    "TIMED",
    "TIME_WINDOW",
    "BULKHEAD",
    "ATTEMPT",
    "TRACE",
)


class Tracing:
    """Where spans plug into the driver: ``spans`` is None until tracing is installed.

    A no-op OpenTelemetry span costs more than a whole :func:`~seawall.standard` call, so
    the driver makes no OpenTelemetry call of its own: each call reads this one attribute,
    and only once :mod:`seawall.metrics` installs its spans does a call go through them.
    """

    __slots__ = ("context", "key", "spans")

    def __init__(self) -> None:
        self.spans: Any = None
        # The span in effect is ``context().get(key)``: two C calls, so a call outside
        # any recording span goes on in the driver's own frame with no span and no
        # Python call of tracing's.
        self.context: Callable[[], Mapping[str, Any]] = _empty
        self.key = ""


def _empty() -> Mapping[str, Any]:
    return {}


tracing = Tracing()

# The key a server edge puts in a request's scope (or environ) once the request is in its
# SERVER span, so that stacked edges open one span per request.
TRACED = "seawall.traced"

# The attribute that marks a client edge's attempt function: its attempt spans are CLIENT
# spans of that protocol ("http" or "rpc") rather than INTERNAL ones.
CLIENT_ATTEMPT = "_seawall_client_attempt"
F = TypeVar("F", bound=Callable[..., Any])


def client_attempt(protocol: str) -> Callable[[F], F]:
    """Mark an edge's attempt function as one request of ``protocol`` to a server."""

    def mark(fn: F) -> F:
        setattr(fn, CLIENT_ATTEMPT, protocol)
        return fn

    return mark


def _sync_template(seg: Segment, fn: Fn) -> Fn:
    fallback: Any = seg.fallback
    total: Any = seg.total
    retry: Any = seg.retry
    breaker: Any = seg.breaker
    bulkhead: Any = seg.bulkhead
    attempt: Any = seg.attempt
    current = _current
    operation = _operation
    debug_cache = _debug_cache
    hook = tracing
    if TOTAL:
        t_clock = total._clock
        t_now = t_clock.now
        t_seconds = total.timeout
    if RETRY:
        r_sleep = retry._clock.sleep
        if BUDGET:
            budget = retry.budget
            budget_now = budget._clock.now
    if BREAKER:
        b_now = breaker._now
        b_acquire, b_release = breaker._lock.acquire, breaker._lock.release
        b_window = breaker._window
    if BULKHEAD:
        tokens = bulkhead._tokens
        waiters = bulkhead._waiters
    if ATTEMPT:
        a_clock = attempt._clock
        a_now = a_clock.now
        a_seconds = attempt.seconds

    def run(*args: Any, **kwargs: Any) -> Any:
        if TRACE and hook.spans is not None:
            span = hook.context().get(hook.key)
            if span is not None and span.is_recording():
                return hook.spans.call(seg, fn, args, kwargs)
        outer: Any
        op: Any
        op_token: Any
        scope: Deadline
        try:
            if TOTAL:  # the operation's deadline: _deadline.enter() inlined
                now = t_now()
                when = now + t_seconds
                parent = current.get()
                if parent is not None:
                    far = parent.when if parent.clock is t_clock else now + parent.remaining()
                    if far < when:
                        when = far
                outer_when = when
                if when <= now:
                    raise total._expired(Deadline(when, t_clock, t_seconds))
                if ATTEMPT:
                    # Each attempt's scope is the nearer of its own and this one: the
                    # operation's scope object is only made if a failure needs it.
                    outer = None
                else:
                    outer = Deadline(when, t_clock, t_seconds)
                    scope_token = current.set(outer)
            elif RETRY:
                outer = current.get()
            try:
                if RETRY:
                    n = 1  # the attempt number
                    if ATTEMPT:
                        # The first attempt's scope is the operation too (FirstAttempt):
                        # one object per call on the success path.
                        op = op_token = None
                    else:
                        op = Operation()
                        op_token = operation.set(op)
                    if BUDGET:  # budget.deposit() inlined while the bucket is current
                        if budget_now() < budget._end:
                            budget._current[0] += 1
                            budget._requests += 1
                        else:
                            budget.deposit()
                    previous = None
                try:
                    while True:
                        if RETRY and (
                            n > 1
                            or events._hooks
                            or (debug_cache.get(DEBUG) is not False and attempt_events_enabled())
                        ):
                            retry._started(n)
                        try:
                            if BREAKER:
                                gen = breaker._gen
                                if breaker._state is not CLOSED:
                                    gen = breaker.admit()
                                    flush(breaker)
                                    if gen.__class__ is not int:
                                        raise gen
                                if TIMED:
                                    start = b_now()
                            try:
                                if BULKHEAD:
                                    queue = bool(waiters)
                                    if not queue:
                                        try:
                                            tokens.pop()
                                            bulkhead.admitted += 1
                                        except IndexError:
                                            queue = True
                                    if queue and TOTAL and ATTEMPT:
                                        # The queue wait counts against the operation.
                                        if outer is None:
                                            outer = Deadline(outer_when, t_clock, t_seconds)
                                        token = current.set(outer)
                                        try:
                                            bulkhead.acquire()
                                        finally:
                                            current.reset(token)
                                    elif queue:
                                        bulkhead.acquire()
                                try:
                                    if ATTEMPT:  # the attempt's deadline: _deadline.enter() inlined
                                        now = a_now()
                                        when = now + a_seconds
                                        parent = current.get()
                                        if parent is not None:
                                            if parent.clock is a_clock:
                                                far = parent.when
                                            else:
                                                far = now + parent.remaining()
                                            if far < when:
                                                when = far
                                        if TOTAL:
                                            if t_clock is a_clock:
                                                far = outer_when
                                            else:
                                                far = now + (outer_when - t_now())
                                            if far < when:
                                                when = far
                                        if RETRY and op is None:
                                            scope = op = FirstAttempt(when, a_clock, a_seconds)
                                            op_token = operation.set(op)
                                        else:
                                            scope = Deadline(when, a_clock, a_seconds)
                                        if when <= now:
                                            raise attempt._expired(scope)
                                        token = current.set(scope)
                                        try:
                                            result = fn(*args, **kwargs) if kwargs else fn(*args)
                                        except TimeoutError as exc:
                                            mapped = attempt._own(exc, scope)
                                            if mapped is exc:
                                                raise
                                            raise mapped from exc
                                        finally:
                                            current.reset(token)
                                        if a_now() > when:
                                            raise attempt._expired(scope)
                                    else:
                                        result = fn(*args, **kwargs) if kwargs else fn(*args)
                                finally:
                                    if BULKHEAD:
                                        tokens.append(None)
                                        if waiters:
                                            bulkhead._hand_over()
                            except BaseException as exc:
                                # A deadline's TimedOut comes before what the breaker
                                # makes of the failure.
                                if ATTEMPT and attempt._events:
                                    flush(attempt)
                                if TOTAL and total._events:
                                    flush(total)
                                if BREAKER:
                                    breaker.failed(exc, gen, start if TIMED else 0.0)
                                    flush(breaker)
                                raise
                            if BREAKER:
                                if TIMED:
                                    breaker.succeeded(gen, start)
                                    flush(breaker)
                                elif gen == breaker._gen and breaker._state is CLOSED:
                                    # A fast success in the closed state: the hot path. A
                                    # time window's current bucket counts it without the
                                    # lock (see TimeWindow); anything else takes the lock.
                                    now = b_now()
                                    if TIME_WINDOW and now < b_window._end:
                                        b_window._calls[b_window._j] += 1
                                    else:
                                        b_acquire()
                                        if gen == breaker._gen:
                                            b_window.success(now)
                                        b_release()
                                    # A success lowers the failure rate, but can bring the
                                    # window up to min_calls above the threshold.
                                    if b_window.failures and breaker._tripped(b_window):
                                        breaker.succeeded(gen, now, record=False)
                                        flush(breaker)
                                else:
                                    breaker.succeeded(gen, 0.0)
                                    flush(breaker)
                            if RETRY:
                                if n == 1:
                                    retry.calls_success_first_try += 1
                                else:
                                    retry.calls_success_after_retry += 1
                            break
                        except Exception as exc:
                            if not RETRY:
                                raise
                            if TOTAL and ATTEMPT and outer is None:
                                outer = Deadline(outer_when, t_clock, t_seconds)
                            delay = retry.decide(exc, n, previous, outer)
                            flush(retry)
                            if delay is None:
                                raise
                        r_sleep(delay)
                        previous = delay
                        n += 1
                        if ATTEMPT and op.__class__ is not Operation:
                            # Past the first attempt: an operation of its own, same key
                            # (and the attempt a server's pushback restarted the backoff at).
                            first = op
                            op = Operation(None if first is None else first._key)
                            if first is not None and hasattr(first, "backoff_from"):
                                op.backoff_from = first.backoff_from
                            if op_token is None:
                                op_token = operation.set(op)
                            else:
                                operation.set(op)
                        op.attempt = n
                finally:
                    if RETRY and (not ATTEMPT or op_token is not None):
                        operation.reset(op_token)
            except TimeoutError as exc:
                if not TOTAL:
                    raise
                if ATTEMPT and outer is None:
                    outer = Deadline(outer_when, t_clock, t_seconds)
                mapped = total._own(exc, outer)
                if mapped is exc:
                    raise
                raise mapped from exc
            finally:
                if TOTAL and not ATTEMPT:
                    current.reset(scope_token)
            if TOTAL and t_now() > outer_when:
                raise total._expired(outer or Deadline(outer_when, t_clock, t_seconds))
            return result
        except Exception as exc:
            if TOTAL and total._events:
                flush(total)
            if not FALLBACK or not fallback._on(exc):
                raise
            fallback._use(exc)
            flush(fallback)
            value = fallback._answer(exc)
            if inspect.isawaitable(value):
                raise ConfigError(
                    "an async fallback factory needs acall() or an async function"
                ) from None
            return value

    return run


def _async_template(seg: Segment, fn: AFn) -> AFn:
    fallback: Any = seg.fallback
    total: Any = seg.total
    retry: Any = seg.retry
    breaker: Any = seg.breaker
    bulkhead: Any = seg.bulkhead
    attempt: Any = seg.attempt
    current = _current
    operation = _operation
    debug_cache = _debug_cache
    hook = tracing
    if TOTAL:
        t_clock = total._clock
        t_now = t_clock.now
        t_seconds = total.timeout
    if RETRY:
        r_asleep = retry._clock.asleep
        if BUDGET:
            budget = retry.budget
            budget_now = budget._clock.now
    if BREAKER:
        b_now = breaker._now
        b_acquire, b_release = breaker._lock.acquire, breaker._lock.release
        b_window = breaker._window
    if BULKHEAD:
        tokens = bulkhead._tokens
        waiters = bulkhead._waiters
    if ATTEMPT:
        a_clock = attempt._clock
        a_now = a_clock.now
        a_seconds = attempt.seconds

    async def run(*args: Any, **kwargs: Any) -> Any:
        if TRACE and hook.spans is not None:
            span = hook.context().get(hook.key)
            if span is not None and span.is_recording():
                return await hook.spans.acall(seg, fn, args, kwargs)
        outer: Any
        op: Any
        op_token: Any
        scope: Deadline
        try:
            if TOTAL:  # the operation's deadline; without an attempt deadline, an alarm
                now = t_now()
                when = now + t_seconds
                parent = current.get()
                if parent is not None:
                    far = parent.when if parent.clock is t_clock else now + parent.remaining()
                    if far < when:
                        when = far
                outer_when = when
                if when <= now:
                    raise total._expired(Deadline(when, t_clock, t_seconds))
                if ATTEMPT:
                    outer = None  # each attempt's scope and alarm cover this one
                else:
                    outer = Deadline(when, t_clock, t_seconds)
                    scope_token = current.set(outer)
                    alarm = t_clock.cancel_at(when)
            elif RETRY:
                outer = current.get()
            try:
                if RETRY:
                    n = 1  # the attempt number
                    if ATTEMPT:
                        # The first attempt's scope is the operation too (FirstAttempt):
                        # one object per call on the success path.
                        op = op_token = None
                    else:
                        op = Operation()
                        op_token = operation.set(op)
                    if BUDGET:
                        if budget_now() < budget._end:
                            budget._current[0] += 1
                            budget._requests += 1
                        else:
                            budget.deposit()
                    previous = None
                try:
                    while True:
                        if RETRY and (
                            n > 1
                            or events._hooks
                            or (debug_cache.get(DEBUG) is not False and attempt_events_enabled())
                        ):
                            retry._started(n)
                        try:
                            if BREAKER:
                                gen = breaker._gen
                                if breaker._state is not CLOSED:
                                    gen = breaker.admit()
                                    flush(breaker)
                                    if gen.__class__ is not int:
                                        raise gen
                                if TIMED:
                                    start = b_now()
                            try:
                                if BULKHEAD:
                                    queue = bool(waiters)
                                    if not queue:
                                        try:
                                            tokens.pop()
                                            bulkhead.admitted += 1
                                        except IndexError:
                                            queue = True
                                    if queue and TOTAL and ATTEMPT:
                                        # The queue wait counts against the operation.
                                        if outer is None:
                                            outer = Deadline(outer_when, t_clock, t_seconds)
                                        token = current.set(outer)
                                        try:
                                            await bulkhead.aacquire()
                                        finally:
                                            current.reset(token)
                                    elif queue:
                                        await bulkhead.aacquire()
                                try:
                                    if ATTEMPT:
                                        now = a_now()
                                        when = now + a_seconds
                                        parent = current.get()
                                        if parent is not None:
                                            if parent.clock is a_clock:
                                                far = parent.when
                                            else:
                                                far = now + parent.remaining()
                                            if far < when:
                                                when = far
                                        if TOTAL:
                                            if t_clock is a_clock:
                                                far = outer_when
                                            else:
                                                far = now + (outer_when - t_now())
                                            if far < when:
                                                when = far
                                        if RETRY and op is None:
                                            scope = op = FirstAttempt(when, a_clock, a_seconds)
                                            op_token = operation.set(op)
                                        else:
                                            scope = Deadline(when, a_clock, a_seconds)
                                        if when <= now:
                                            raise attempt._expired(scope)
                                        token = current.set(scope)
                                        own = a_clock.cancel_at(when)
                                        try:
                                            result = await (
                                                fn(*args, **kwargs) if kwargs else fn(*args)
                                            )
                                        except asyncio.CancelledError as exc:
                                            if own.claimed():
                                                # An attempt cut short by the operation's
                                                # deadline is the operation's timeout.
                                                if TOTAL and outer_when <= when:
                                                    whole = outer or Deadline(
                                                        outer_when, t_clock, t_seconds
                                                    )
                                                    raise total._expired(whole, exc) from None
                                                raise attempt._expired(scope, exc) from None
                                            raise
                                        except TimeoutError as exc:
                                            mapped = attempt._own(exc, scope)
                                            if mapped is exc:
                                                raise
                                            raise mapped from exc
                                        finally:
                                            bucket = own._bucket  # own.disarm(), inlined
                                            if bucket is not None:
                                                own._bucket = None
                                                bucket.pop(id(own), None)
                                            current.reset(token)
                                        if own.fired:  # the work swallowed the cancellation
                                            own.task.uncancel()
                                            raise attempt._expired(scope)
                                        # On a virtual clock an overrun shows up here.
                                        if a_now() > when:
                                            raise attempt._expired(scope)
                                    else:
                                        result = await (
                                            fn(*args, **kwargs) if kwargs else fn(*args)
                                        )
                                finally:
                                    if BULKHEAD:
                                        tokens.append(None)
                                        if waiters:
                                            bulkhead._hand_over()
                            except BaseException as exc:
                                # A deadline's TimedOut comes before what the breaker
                                # makes of the failure.
                                if ATTEMPT and attempt._events:
                                    flush(attempt)
                                if TOTAL and total._events:
                                    flush(total)
                                if BREAKER:
                                    breaker.failed(exc, gen, start if TIMED else 0.0)
                                    flush(breaker)
                                raise
                            if BREAKER:
                                if TIMED:
                                    breaker.succeeded(gen, start)
                                    flush(breaker)
                                elif gen == breaker._gen and breaker._state is CLOSED:
                                    now = b_now()
                                    if TIME_WINDOW and now < b_window._end:
                                        b_window._calls[b_window._j] += 1
                                    else:
                                        b_acquire()
                                        if gen == breaker._gen:
                                            b_window.success(now)
                                        b_release()
                                    if b_window.failures and breaker._tripped(b_window):
                                        breaker.succeeded(gen, now, record=False)
                                        flush(breaker)
                                else:
                                    breaker.succeeded(gen, 0.0)
                                    flush(breaker)
                            if RETRY:
                                if n == 1:
                                    retry.calls_success_first_try += 1
                                else:
                                    retry.calls_success_after_retry += 1
                            break
                        except Exception as exc:
                            if not RETRY:
                                raise
                            if TOTAL and ATTEMPT and outer is None:
                                outer = Deadline(outer_when, t_clock, t_seconds)
                            delay = retry.decide(exc, n, previous, outer)
                            flush(retry)
                            if delay is None:
                                raise
                        await r_asleep(delay)
                        previous = delay
                        n += 1
                        if ATTEMPT and op.__class__ is not Operation:
                            # Past the first attempt: an operation of its own, same key
                            # (and the attempt a server's pushback restarted the backoff at).
                            first = op
                            op = Operation(None if first is None else first._key)
                            if first is not None and hasattr(first, "backoff_from"):
                                op.backoff_from = first.backoff_from
                            if op_token is None:
                                op_token = operation.set(op)
                            else:
                                operation.set(op)
                        op.attempt = n
                finally:
                    if RETRY and (not ATTEMPT or op_token is not None):
                        operation.reset(op_token)
            except asyncio.CancelledError as exc:
                if TOTAL and not ATTEMPT and alarm.claimed():
                    raise total._expired(outer, exc) from None
                raise
            except TimeoutError as exc:
                if not TOTAL:
                    raise
                if ATTEMPT and outer is None:
                    outer = Deadline(outer_when, t_clock, t_seconds)
                mapped = total._own(exc, outer)
                if mapped is exc:
                    raise
                raise mapped from exc
            finally:
                if TOTAL and not ATTEMPT:
                    alarm.disarm()
                    current.reset(scope_token)
            if TOTAL and not ATTEMPT and alarm.fired:  # the work swallowed the cancellation
                alarm.task.uncancel()
                raise total._expired(outer)
            if TOTAL and t_now() > outer_when:
                raise total._expired(outer or Deadline(outer_when, t_clock, t_seconds))
            return result
        except Exception as exc:
            if TOTAL and total._events:
                flush(total)
            if not FALLBACK or not fallback._on(exc):
                raise
            fallback._use(exc)
            flush(fallback)
            value = fallback._answer(exc)
            if inspect.isawaitable(value):
                value = await value
            return value

    return run


# The templates' text, read once while this module loads, so that what is compiled is the
# text of the code that was loaded (not a file changed on disk since).
_SOURCES = {
    template.__name__: textwrap.dedent(inspect.getsource(template))
    for template in (_sync_template, _async_template)
}
_compiled: dict[tuple[str, tuple[bool, ...]], Callable[..., Any]] = {}


def _flags(seg: Segment) -> tuple[bool, ...]:
    breaker, retry = seg.breaker, seg.retry
    return (
        seg.fallback is not None,
        seg.total is not None,
        retry is not None,
        retry is not None and retry.budget is not None,
        breaker is not None,
        breaker is not None and breaker.slow_call_duration is not None,
        breaker is not None and isinstance(breaker._window, TimeWindow),
        seg.bulkhead is not None,
        seg.attempt is not None,
        True,
    )


def _specialise(template: Callable[..., Any], flags: tuple[bool, ...]) -> Callable[..., Any]:
    """``template`` with each flag replaced by its value, compiled once per combination."""
    key = (template.__name__, flags)
    factory = _compiled.get(key)
    if factory is None:
        source = _SOURCES[template.__name__]
        values = dict(zip(_FLAGS, flags, strict=True))
        tree = prune(ast.parse(source), values)
        shown = source
        for name, value in values.items():
            shown = re.sub(rf"\b{name}\b", str(value), shown)
        filename = f"<seawall driver {template.__name__} {''.join('01'[f] for f in flags)}>"
        # Tracebacks through a compiled driver show its lines (the template's, with the
        # flags' values), as for dataclasses.
        linecache.cache[filename] = (len(shown), None, shown.splitlines(True), filename)
        namespace = dict(globals())
        exec(compile(tree, filename, "exec"), namespace)
        factory = _compiled[key] = namespace[template.__name__]
    return factory


def compile_sync(seg: Segment, fn: Fn) -> Fn:
    """``fn`` run under the cores of ``seg``: one function, one frame per call."""
    shell = seg.shell
    if shell is not None:
        if hasattr(shell, "_enter"):
            return gate_sync(cast(Gate, shell), fn)
        guard = shell._guard

        def shelled(*args: Any, **kwargs: Any) -> Any:
            return guard(fn, args, kwargs)

        return shelled
    return cast(Fn, _specialise(_sync_template, _flags(seg))(seg, fn))


def compile_async(seg: Segment, fn: AFn) -> AFn:
    """The async form of :func:`compile_sync`: deadlines cancel the awaited call."""
    shell = seg.shell
    if shell is not None:
        if hasattr(shell, "_enter"):
            return gate_async(cast(Gate, shell), fn)
        aguard = shell._aguard

        async def shelled(*args: Any, **kwargs: Any) -> Any:
            return await aguard(fn, args, kwargs)

        return shelled
    return cast(AFn, _specialise(_async_template, _flags(seg))(seg, fn))


def untraced_sync(seg: Segment, fn: Fn) -> Fn:
    """The driver of :func:`compile_sync` without the tracing check: what a traced call runs."""
    return cast(Fn, _specialise(_sync_template, (*_flags(seg)[:-1], False))(seg, fn))


def untraced_async(seg: Segment, fn: AFn) -> AFn:
    return cast(AFn, _specialise(_async_template, (*_flags(seg)[:-1], False))(seg, fn))


def chain_sync(policies: tuple[Layer, ...], fn: Fn) -> Fn:
    """``fn`` under ``policies`` (outermost first), compiled segment by segment."""
    for seg in reversed(segments(policies)):
        fn = compile_sync(seg, fn)
    return fn


def chain_async(policies: tuple[Layer, ...], fn: AFn) -> AFn:
    for seg in reversed(segments(policies)):
        fn = compile_async(seg, fn)
    return fn
