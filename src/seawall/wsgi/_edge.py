"""The WSGI server edge: every seawall step a request passes, in one callable.

The same steps, order and wire conventions as the ASGI edge (:mod:`seawall.http`):

1. *probes* (``/livez``, ``/readyz``, ``/startupz``) are answered first: never shed,
   never queued, no deadline; ``/readyz`` also fails while the server drains;
2. *deadline*: the caller's budget (``X-Request-Timeout-Ms``, ``grpc-timeout``, Envoy's
   header), capped at ``maximum``, becomes the request's deadline scope, so
   ``seawall.remaining()`` works in the handler thread; a spent budget gets 504 at once;
3. *shedding*: the request needs a permit at its priority from the shedder's
   thread-safe admission, or gets 503 with ``Retry-After``;
4. *idempotency*: keyed requests go through :mod:`seawall.wsgi._keyed`;
5. *degraded*: names that :func:`seawall.partial` left out become ``X-Degraded``.

A 5xx answer to a request whose call downstream was spent carries ``X-Request-Retry:
no``, whether the handler rendered it or let the error escape (answered 500 here), as
on the ASGI edge (:mod:`seawall._pushback`).

A *rate limit*, when configured, runs between the probes and the deadline
(:mod:`seawall.wsgi._ratelimit`).

A thread cannot be safely interrupted, so the deadline is cooperative, exactly as the
sync :class:`~seawall.Timeout` documents: I/O below the handler uses the remaining time,
and a handler that returns after its deadline has its answer discarded for a 504. For
that, the edge holds the handler's ``start_response`` until the handler returns (an app
that calls ``write()`` commits its status early and cannot be answered 504 any more).
The deadline, priority and degraded scopes cover the call of the app; a body the server
iterates after it returns runs outside them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._degraded import Collector, _names
from seawall._drive import TRACED, tracing
from seawall._errors import DeadlineExceeded, HeaderError, LoadShed
from seawall._events import flush
from seawall._priority import _current as _priority_scope
from seawall._priority import rank_of
from seawall._pushback import (
    DEPENDENCY_FAILING,
    NO_RETRY,
    RETRY_HEADER,
    answered_spent,
    clear,
    noted,
)
from seawall.http._asgi import overloaded, problem
from seawall.http._health import Health, probe_reply
from seawall.policies._timeout import RequestTimeout
from seawall.wire import (
    ENVOY_TIMEOUT_HEADER,
    GRPC_TIMEOUT_HEADER,
    TIMEOUT_HEADER,
    budget_from_headers,
)
from seawall.wsgi import _drain
from seawall.wsgi._reply import Environ, StartResponse, WSGIApp, _Held, answer, refuse

if TYPE_CHECKING:
    from seawall.http._shedding import Priorities
    from seawall.policies._shedder import LoadShedder
    from seawall.wsgi._keyed import Keyed
    from seawall.wsgi._ratelimit import WSGIRateLimit

__all__ = ["WSGIEdge"]

logger = logging.getLogger("seawall.wsgi")

# The budget headers as the WSGI environ names them (CGI style).
_BUDGET_KEYS = tuple(
    ("HTTP_" + name.upper().replace("-", "_"), name)
    for name in (TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, ENVOY_TIMEOUT_HEADER)
)
_SPENT = "the request's budget was spent"
_NO_RETRY = ("X-Request-Retry", NO_RETRY)
_NO_RETRY_RAW = (RETRY_HEADER.encode(), NO_RETRY.encode())


class WSGIEdge:
    """Run a WSGI request through the enabled edge steps, then ``app``.

    Built by :func:`seawall.wsgi.protect`, which checks every option.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        health: Health,
        probes: Mapping[str, str],
        maximum: float,
        clock: Clock | None,
        shedder: LoadShedder | None,
        priorities: Priorities | None,
        unshed: frozenset[str],
        keyed: Keyed | None,
        rate_limit: WSGIRateLimit | None = None,
    ) -> None:
        self.app = app
        self.health = health
        self._probes = probes
        self.maximum = maximum
        self.clock = clock or SYSTEM_CLOCK
        # The deadline's core, the ASGI edge's with this edge's name on its events.
        self.timeout = _Timeout(self.clock)
        self.shedder = shedder
        self._priorities = priorities
        self._unshed = unshed
        self._keyed = keyed
        self._rate_limit = rate_limit

    @property
    def inner(self) -> WSGIApp:
        """The app that was protected."""
        return self.app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO") or "/"
        kind = self._probes.get(path)
        if kind is not None:
            return self._probe(kind, environ, start_response)
        spans = tracing.spans
        if spans is not None and TRACED not in environ:  # a SERVER span, child of traceparent
            return spans.wsgi(self, environ, start_response)  # type: ignore[no-any-return]
        if self._rate_limit is not None:
            # Before the deadline, the shedder and idempotency, as on the ASGI edge.
            refused, start_response = self._rate_limit(environ, start_response)
            if refused is not None:
                return refused
        method: str = environ.get("REQUEST_METHOD", "GET")

        budget = self.maximum
        sent: dict[str, str] | None = None
        for key, name in _BUDGET_KEYS:  # most requests carry none of them
            if key in environ:
                if sent is None:
                    sent = {}
                sent[name] = environ[key]
        if sent is not None:
            try:
                capped = budget_from_headers(sent, maximum=budget)
            except HeaderError as exc:
                return refuse(start_response, 400, "Bad request timeout header", str(exc))
            assert capped is not None  # capped at maximum
            budget = capped
            if budget <= 0:
                return refuse(start_response, 504, "Deadline exceeded", _SPENT)
        level: str | None = None
        if self._priorities is not None and path not in self._unshed:
            raw = environ.get("HTTP_X_REQUEST_PRIORITY")
            try:
                level = self._priorities.resolve(
                    raw.encode("latin-1") if isinstance(raw, str) else None,
                    {"method": method, "path": path},
                )
            except (HeaderError, UnicodeEncodeError) as exc:
                return refuse(start_response, 400, "Bad request priority", str(exc))
        keyed = self._keyed is not None and self._keyed.wants(environ, method, path)

        timeout = self.timeout
        entered = timeout.enter(budget)
        if entered is None:  # an enclosing in-process scope was already spent
            return refuse(start_response, 504, "Deadline exceeded", _SPENT)
        deadline, token, _ = entered
        admission = None
        permit = False  # a fixed limit's permit, taken without an Admission object
        failure: BaseException | None = None
        held = _Held(start_response)
        try:
            if level is not None:
                shedder = self.shedder
                assert shedder is not None
                if shedder.fixed and shedder.enter_now(rank_of(level)):
                    permit = True
                else:
                    admission = shedder.admit(level)
                    try:
                        admission.enter()
                    except LoadShed as exc:
                        admission = None
                        status, title, detail, retry = overloaded(level, exc.retry_after)
                        return refuse(start_response, status, title, detail, retry_after=retry)
            ptoken = _priority_scope.set(level) if level not in (None, "normal") else None
            collector = Collector()
            # A keyed request's names are stored with its response: it hands over the set.
            names: set[str] | None = set() if keyed else None
            collector.names = names
            ntoken = _names.set(collector)
            try:
                if keyed:
                    assert self._keyed is not None
                    assert names is not None
                    result: Iterable[bytes] = self._keyed(environ, method, path, held, names)
                else:
                    result = self.app(environ, held)
            finally:
                _names.reset(ntoken)
                if ptoken is not None:
                    _priority_scope.reset(ptoken)
            if not held.sent and (late := timeout.late(deadline)) is not None:
                _close(result)
                raise late
            if not held.sent:
                if held.status[:1] == "5" and answered_spent():  # seawall._pushback
                    held.headers = [*held.headers, _NO_RETRY]
                names = collector.names
                held.commit(("X-Degraded", ", ".join(sorted(names))) if names else None)
            return result
        except DeadlineExceeded as exc:
            failure = exc
            if held.sent:  # too late to change the status: the server aborts the response
                raise
            logger.info("%s %s: %s", method, path, exc)
            return refuse(
                start_response,
                504,
                "Deadline exceeded",
                f"the handler ran past its {budget:.3f}s budget",
            )
        except Exception as exc:
            failure = exc
            if held.sent or not answered_spent(exc):
                raise
            logger.error("%s %s failed", method, path, exc_info=exc)
            headers, body = problem(500, *DEPENDENCY_FAILING, headers=[_NO_RETRY_RAW])
            return answer(start_response, 500, headers, body)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            # One thread serves request after request in one context: a note left by a
            # request that recovered from a spent call must not reach the next one.
            if noted():
                clear()
            timeout.leave(token, None)
            if timeout._events:
                flush(timeout)
            if permit:
                self.shedder.leave_now()  # type: ignore[union-attr]
            elif admission is not None:
                # The admission learns from how the call ended (a timeout is a drop).
                admission.leave(failure)

    def _probe(self, kind: str, environ: Environ, start_response: StartResponse) -> list[bytes]:
        health = self.health
        if kind == "ready" and _drain.draining() and not health.is_draining:
            health.start_draining()
        if kind == "ready" and health.has_checks:
            # Checks may be coroutines: a probe (not a request) may pay for a loop.
            ok, details = asyncio.run(health.readiness())
        else:
            ok, details = health.answer(kind)
        verbose = "verbose" in environ.get("QUERY_STRING", "")
        status, headers, body = probe_reply(ok, details, verbose=verbose)
        return answer(start_response, status, headers, body)


class _Timeout(RequestTimeout):
    __slots__ = ()
    _kind = "wsgi"


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
