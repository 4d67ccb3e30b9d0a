"""The server edge in one ASGI callable: every seawall step a request passes, in order.

Nested middlewares would cost each layer a coroutine frame, a send wrapper and its own
scan of the headers; on a trivial endpoint under uvicorn a stack of five measures 80 % of
the bare app's requests/s. This class runs the same steps, in the same order, in one
frame, with one scan of the headers and one send wrapper:

1. *probes* (``/livez``, ``/readyz``, ``/startupz``) are answered first: never shed,
   never queued, no deadline;
2. *deadline*: the caller's budget, capped at ``maximum``, becomes the request's deadline
   scope; a spent budget gets 504 at once, a handler that runs past it is cancelled. The
   steps are the driver's, asked of a timeout core whose budget is given per request
   (:class:`~seawall.policies._timeout.RequestTimeout`): the scope, the clock's
   cancellation alarm, and telling the alarm's cancellation from any other;
3. *shedding*: the request needs a permit at its priority, or gets 503;
4. *idempotency*: keyed requests go through the idempotency middleware (replays,
   conflicts, stored responses), which has its own, rarer, path;
5. *degraded*: names that :func:`seawall.partial` left out become ``X-Degraded``.

A 5xx answer to a request whose call downstream was spent (its retry budget refused the
retries of a dependency failing broadly, or the answer said so) carries
``X-Request-Retry: no``, whether the handler rendered it or let the error escape (the
edge answers such an error 500 itself): only the layer right above a failing
dependency retries (:mod:`seawall._pushback`).

A *rate limit* (``rate_limit``), when configured, runs between the probes and the
deadline: see :mod:`seawall.http._ratelimit`. The pages :func:`~seawall.http.protect`
serves (``/metrics``, ``/seawall``, the dashboard) are answered with the probes, found by
the same single lookup; and the request's duration, when counted, is read from the one
send wrapper, so showing the service costs no frame of its own either.

The deadline's cancellation alarm is armed where the handler first suspends: an alarm can
only interrupt a coroutine at a suspension point, so a handler that finishes without
suspending could not have been cancelled anyway, and skipping its alarm is most of what
a trivial endpoint pays for its deadline.

Each step is optional. The standalone middlewares (``DeadlineMiddleware``,
``SheddingMiddleware``, ...) are this class with one step turned on, so there is one
implementation of each step, and the pieces compose exactly as ``protect()`` does.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from asyncio import get_running_loop
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from time import perf_counter
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from seawall._alarm import Alarm
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._degraded import Collector, _names
from seawall._drive import TRACED, tracing
from seawall._durations import BUCKETS, SERVER, UNMATCHED, method_label, route_label
from seawall._errors import DeadlineExceeded, HeaderError, LoadShed
from seawall._events import flush
from seawall._priority import PRIORITY_RANK
from seawall._priority import _current as _priority_scope
from seawall._pushback import DEPENDENCY_FAILING, NO_RETRY_FIELD, answered_spent, with_no_retry
from seawall.http._asgi import ASGIApp, Message, Receive, Scope, Send, overloaded, send_problem
from seawall.policies._timeout import RequestTimeout
from seawall.wire import budget_from_headers

if TYPE_CHECKING:
    from seawall.http._priorities import Priorities
    from seawall.http._probes import Health
    from seawall.http._ratelimit import RateLimitStep
    from seawall.metrics._dashboard import Dashboard
    from seawall.policies._shedder import Admission, LoadShedder

__all__ = ["Answer", "Edge", "KeyedRoute"]

logger = logging.getLogger("seawall.http")

# What one pass over the request headers looks for. ASGI servers send lower-case names in
# practice, so an exact lookup is the common cost; the spec only asks for lower case, so a
# name that is not lower case is looked up again lower-cased.
_BUDGET, _PRIORITY, _KEY = 0, 1, 2
_WANTED = {
    b"x-request-timeout-ms": _BUDGET,
    b"grpc-timeout": _BUDGET,
    b"x-envoy-expected-rq-timeout-ms": _BUDGET,
    b"x-request-priority": _PRIORITY,
    b"idempotency-key": _KEY,
}

KeyedRoute = Callable[[str, str], bool]
# A path answered before every step (a page, the dashboard): scope, receive, send.
Answer = Callable[[Scope, Receive, Send], Awaitable[None]]


class Edge:
    """Run a request through the enabled edge steps, then ``app``.

    Not constructed directly: :func:`~seawall.http.protect` and the standalone
    middlewares configure it. ``probes`` maps paths to the probe ``health`` answers;
    ``maximum`` (seconds) turns deadlines on; ``shedder`` with ``priorities`` turns
    shedding on, except for the ``unshed`` paths; ``keyed`` is the app that serves
    requests the idempotency middleware must see (``methods`` with a key, or for which
    ``requires_key`` says one is needed); ``degraded_header`` turns X-Degraded on.
    ``answers`` maps more paths to the app that answers them before every step (pages);
    ``dashboard`` is served the same way and sampled on the serving loop; ``durations``
    counts every other request in ``http.server.request.duration``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        health: Health | None = None,
        probes: Mapping[str, str] | None = None,
        maximum: float | None = None,
        clock: Clock | None = None,
        shedder: LoadShedder | None = None,
        priorities: Priorities | None = None,
        unshed: frozenset[str] = frozenset(),
        keyed: ASGIApp | None = None,
        methods: frozenset[str] = frozenset(),
        requires_key: KeyedRoute | None = None,
        degraded_header: bytes | None = None,
        rate_limit: RateLimitStep | None = None,
        answers: Mapping[str, Answer] | None = None,
        dashboard: Dashboard | None = None,
        durations: bool = False,
    ) -> None:
        if maximum is not None and not maximum > 0:
            raise ValueError(f"maximum must be a positive number of seconds, got {maximum!r}")
        if (shedder is None) != (priorities is None):
            raise ValueError("shedding needs both a shedder and its priorities")
        self.app = app
        self.health = health
        self._probes: Mapping[str, str] = probes if health is not None and probes else {}
        self.maximum = maximum
        self.clock = clock or SYSTEM_CLOCK
        # The deadline's core: the same steps the driver takes around a Timeout, with the
        # budget each request brings.
        self.timeout = RequestTimeout(self.clock)
        self.shedder = shedder
        self._priorities = priorities
        # Without route rules, a request that sends no priority has the default one.
        self._default_rank = (
            PRIORITY_RANK[priorities.default]
            if priorities is not None and not priorities.routed
            else None
        )
        self._unshed = unshed
        # A fixed limit's permits are taken without an Admission (read once: it never changes).
        self._fixed = shedder is not None and shedder.fixed
        self._keyed = keyed
        self._methods = methods if keyed is not None else frozenset()
        self._requires_key = requires_key
        self._degraded = degraded_header
        self._rate_limit = rate_limit
        self.dashboard = dashboard
        self.durations = durations
        # Every path answered before the steps, found with one lookup: the probes, then
        # ``answers`` (pages), then the dashboard's page and stream, a later one winning.
        first: dict[str, Answer] = {path: self._probe(kind) for path, kind in self._probes.items()}
        first.update(answers or {})
        if dashboard is not None:
            first[dashboard.path] = first[dashboard.stream_path] = dashboard
        self._first = first
        # Steps that read headers; without any, the scan is skipped.
        self._scan = maximum is not None or shedder is not None or keyed is not None
        self._wraps = maximum is not None or degraded_header is not None or durations

    def _probe(self, kind: str) -> Answer:
        def answer(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            assert self.health is not None
            return self.health.respond(kind, scope, send)

        return answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            dashboard = self.dashboard
            if dashboard is not None and scope["type"] == "lifespan":
                receive = dashboard.lifespan(receive)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        dashboard = self.dashboard
        if dashboard is not None:
            # Sampling runs as a task on the serving loop: the common request finds it
            # running there and pays three C calls, not a method call of its own.
            task = dashboard._task
            if task is None or task.done() or task.get_loop() is not get_running_loop():
                dashboard.wake()
        first = self._first.get(path)
        if first is not None:  # never shed, queued, limited, timed or counted
            await first(scope, receive, send)
            return
        spans = tracing.spans
        if spans is not None and TRACED not in scope:  # a SERVER span, child of traceparent
            await spans.asgi(self, scope, receive, send)
            return
        # The one send wrapper: the status (for the duration), X-Degraded, and whether the
        # response started. Answers the edge gives itself go around it, through ``answer``.
        response = _Response(send)
        durations = self.durations
        started = perf_counter() if durations else 0.0
        try:
            if self._rate_limit is not None:
                # Before the deadline, the shedder and idempotency: an over-quota request
                # costs nothing, is never shed-counted and never stored for replay.
                limited = await self._rate_limit(scope, send)
                if limited is None:
                    response.status = 429
                    return
                send = response._send = limited
            if not self._scan and not self._wraps:
                await self.app(scope, receive, send)
                return
            budget = self.maximum
            rank = -1  # not shed
            keyed = False
            if self._scan:
                budgets: list[tuple[bytes, bytes]] | None = None
                sent_priority: bytes | None = None
                for name, value in scope["headers"]:
                    wanted = _WANTED.get(name)
                    if wanted is None:
                        if name.islower():
                            continue
                        name = name.lower()
                        wanted = _WANTED.get(name)
                        if wanted is None:
                            continue
                    if wanted == _BUDGET:
                        if budgets is None:
                            budgets = []
                        budgets.append((name, value))
                    elif wanted == _PRIORITY:
                        if sent_priority is None:  # the first one wins
                            sent_priority = value
                    else:
                        keyed = True
                if budget is not None and budgets is not None:
                    try:
                        budget = budget_from_headers(budgets, maximum=budget)
                    except HeaderError as exc:
                        await response.answer(400, "Bad request timeout header", str(exc))
                        return
                    assert budget is not None  # capped at maximum
                    if budget <= 0:
                        await response.answer(504, "Deadline exceeded", _SPENT)
                        return
                if self._priorities is not None and path not in self._unshed:
                    try:
                        if sent_priority is None and self._default_rank is not None:
                            rank = self._default_rank
                        else:
                            rank = PRIORITY_RANK[self._priorities.resolve(sent_priority, scope)]
                    except HeaderError as exc:
                        await response.answer(400, "Bad request priority", str(exc))
                        return
                if self._keyed is not None and scope["method"] in self._methods:
                    requires = self._requires_key
                    keyed = keyed or (requires is not None and requires(scope["method"], path))
                else:
                    keyed = False

            deadline = token = None
            alarm: Alarm | None = None
            timeout = self.timeout
            if budget is not None:
                entered = timeout.enter(budget)
                if entered is None:  # an enclosing in-process scope was already spent
                    await response.answer(504, "Deadline exceeded", _SPENT)
                    return
                deadline, token, _ = entered
            # A keyed request's X-Degraded is marked inside the idempotency step, so a replay
            # carries it too; everything else is marked here.
            marks = self._degraded is not None and not keyed
            if marks:
                response.header = self._degraded
            reply = response.send if self._wraps else send
            admission: Admission | None = None
            permit = False  # a fixed limit's permit, taken without an Admission object
            failure: BaseException | None = None
            spent = False
            try:
                if rank >= 0:
                    shedder = self.shedder
                    assert shedder is not None
                    if self._fixed and shedder.enter_now(rank):
                        permit = True
                    else:
                        admission = shedder.admit(_LEVELS[rank])
                    if admission is not None and not admission.try_enter():
                        if deadline is not None:  # the wait in the queue counts against it
                            alarm = timeout.arm(deadline)
                        try:
                            await admission.wait()
                        except LoadShed as exc:
                            admission = None
                            status, title, detail, retry = overloaded(
                                _LEVELS[rank], exc.retry_after
                            )
                            await response.answer(status, title, detail, retry_after=retry)
                            return
                # Normal is the wire default and needs no scope (current_priority() is None).
                ptoken = (
                    _priority_scope.set(_LEVELS[rank]) if rank >= 0 and rank != _NORMAL else None
                )
                ntoken = _names.set(response) if marks else None
                try:
                    handler = self._keyed if keyed else self.app
                    assert handler is not None
                    work = handler(scope, receive, reply)
                    if alarm is not None or deadline is None or type(work) is not CoroutineType:
                        await work
                    else:
                        # An alarm can only interrupt a handler where it suspends, so arm it
                        # there: run the first step now, and a handler that finishes without
                        # suspending (most trivial endpoints) never needs one. ``next`` with a
                        # default takes the step without raising StopIteration when it ends.
                        suspended = next(work.__await__(), _FINISHED)
                        if suspended is not _FINISHED:
                            alarm = timeout.arm(deadline)
                            await _Resumed(work, suspended)
                finally:
                    if ntoken is not None:
                        _names.reset(ntoken)
                    if ptoken is not None:
                        _priority_scope.reset(ptoken)
                if alarm is not None:  # the handler may have swallowed the cancellation
                    overran = timeout.overran(deadline, alarm)  # type: ignore[arg-type]
                    if overran is not None:
                        raise overran
            except asyncio.CancelledError as exc:
                mine = None if deadline is None else timeout.cancelled(deadline, alarm, exc)
                if mine is None:
                    failure = exc
                    raise
                failure = mine
            except DeadlineExceeded as exc:
                failure = exc
                if deadline is None:
                    raise  # not this edge's deadline to answer
            except BaseException as exc:
                failure = exc
                if (
                    response.started
                    or not self._wraps
                    or not isinstance(exc, Exception)
                    or not answered_spent(exc)
                ):
                    raise
                spent = True  # answered below: 500, "do not retry" (seawall._pushback)
            finally:
                if token is not None:
                    timeout.leave(token, alarm)
                    if timeout._events:
                        flush(timeout)
                if permit:
                    self.shedder.leave_now()  # type: ignore[union-attr]
                elif admission is not None:
                    # The admission learns from how the call ended (a timeout is a drop).
                    admission.leave(failure)
            if failure is None:
                return
            if response.started:
                # Too late to change the status: abort so the client sees a broken response
                # rather than a complete-looking truncated one.
                raise failure
            if spent:
                logger.error("%s %s failed", scope.get("method"), path, exc_info=failure)
                response.status = 500
                await send_problem(send, 500, *DEPENDENCY_FAILING, headers=[NO_RETRY_FIELD])
                return
            logger.info("%s %s: %s", scope.get("method"), path, failure)
            await response.answer(
                504, "Deadline exceeded", f"the handler ran past its {budget:.3f}s budget"
            )
        except BaseException:
            if not response.status:
                response.status = 500  # what the server answers for a handler that raised
            raise
        finally:
            # The response is the request's X-Degraded collector, so contexts copied while
            # the request ran reach it: the server's keep-alive timer, scheduled inside the
            # last send, keeps its copy until the loop drops the timer, cancelled or not. Let
            # go of the server's send, or each request's whole connection cycle would stay
            # alive that long and pile up in the garbage collector's older generations.
            response._send = _ended
            if durations:
                # route_label() and Durations.record() inlined: this runs on every request.
                route = scope.get("route")
                method = scope["method"]
                key = (
                    UNMATCHED if route is None else route_label(scope),
                    method if method in _STANDARD_METHODS else method_label(method),
                    response.status,
                )
                seconds = perf_counter() - started
                series = _SERIES.get(key)
                if series is None:
                    series = SERVER._add(key)
                series.counts[bisect_left(BUCKETS, seconds)] += 1
                series.sum += seconds


_SPENT = "the request's budget was spent"
_FINISHED = object()  # what a handler's first step gives when it did not suspend
_STANDARD_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))
_SERIES = SERVER._series
_LEVELS = tuple(PRIORITY_RANK)
_NORMAL = PRIORITY_RANK["normal"]


async def _ended(message: Message) -> None:
    raise RuntimeError(f"ASGI message {message.get('type')!r} sent after the request ended")


class _Response(Collector):
    """The one send wrapper: the status, whether the response started, X-Degraded on it.

    It is the request's degraded-names collector too, so opening one allocates nothing.

    ``answer`` sends the edge's own problem answers (400, 503, 504) around the wrapper:
    no X-Degraded on them, and only the handler's start counts as ``started``.
    """

    __slots__ = ("_send", "header", "started", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.header: bytes | None = None
        self.names = None  # a set once something is marked degraded
        self.started = False
        self.status = 0  # none sent yet

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function handing back the server's awaitable: no coroutine of its own
        # per message (ASGI asks only that send return an awaitable).
        if message["type"] == "http.response.start":
            self.started = True
            self.status = status = message["status"]
            # A 5xx after a downstream call was spent, or for a spent error on its way
            # out (a framework renders it in its except block): "do not retry".
            if status >= 500 and answered_spent(sys.exception()):
                message = with_no_retry(message)
            if self.names and self.header is not None:
                headers = list(message.get("headers", []))
                headers.append((self.header, ", ".join(sorted(self.names)).encode()))
                message = {**message, "headers": headers}
        return self._send(message)

    def answer(
        self, status: int, title: str, detail: str, *, retry_after: float | None = None
    ) -> Awaitable[None]:
        self.status = status
        return send_problem(self._send, status, title, detail, retry_after=retry_after)


class _Resumed:
    """The rest of a coroutine whose first step already ran, as an awaitable.

    Awaiting it first waits on what that step suspended on, exactly as the task would
    have, then hands the coroutine back to ``yield from`` — so later suspensions cost
    what they always cost. Whatever the task throws in (a cancellation) goes to the
    coroutine.
    """

    __slots__ = ("_coro", "_suspended")

    def __init__(self, coro: Coroutine[Any, Any, None], suspended: Any) -> None:
        self._coro = coro
        self._suspended = suspended

    def __await__(self) -> Generator[Any, Any, None]:
        coro, suspended = self._coro, self._suspended
        while True:
            try:
                sent = yield suspended
            except BaseException as exc:
                try:
                    suspended = coro.throw(exc)
                except StopIteration:
                    return
                continue
            if sent is None:  # how asyncio resumes a task: yield from does the same
                yield from coro.__await__()
                return
            try:
                suspended = coro.send(sent)
            except StopIteration:
                return
