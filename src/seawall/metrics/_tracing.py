"""Spans: one per protected call, one per attempt, and one trace across processes.

Once :func:`install` has run, a call that a policy or pipeline protects is an INTERNAL
span named for its policy, and each attempt of a retried call is a child of it. On a
client edge (``seawall.http.Client``, ``seawall.requests``, ``seawall.aiohttp``,
``seawall.grpc``) the attempt is the CLIENT span, with the OpenTelemetry HTTP semantic
conventions' ``http.request.resend_count`` (0 for the first attempt, 1 for the first
retry, ...) or the RPC ones, and it sends its W3C ``traceparent``/``tracestate`` with the
request. The server edges (``protect()``, ``seawall.wsgi.protect``, the gRPC server
interceptors) pick the context up and serve the request in a SERVER span that is a child
of the caller's attempt, so a chain of services is one trace.

What the policies decide is told as span events on the span in effect: a retry
scheduled (with its delay) or refused, a breaker or bulkhead rejection, a shed request,
a fallback used, a breaker changing state.

Only the final failure is an error: an attempt that failed and was retried is not (it
carries ``error.type``), so an error in a trace is a call that failed its caller.

Spans cost: a no-op OpenTelemetry span costs more than a whole ``standard()`` call. So
the driver makes no OpenTelemetry call until :func:`install`, and then seawall opens its
spans only under a span that is recording (the server edge's, or one of yours): outside
one, or when the sampler dropped it, a call runs the plain driver.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace import propagation as _propagation

from seawall import _drive
from seawall._events import (
    BreakerStateChanged,
    CallRejected,
    Event,
    FallbackUsed,
    RetryRefused,
    RetryScheduled,
    TimedOut,
    set_span_sink,
)
from seawall._operation import current_attempt

__all__ = ["install", "installed", "uninstall"]

TRACED = _drive.TRACED

_REJECTED = {
    "circuit_breaker": "seawall.circuit_breaker.rejected",
    "bulkhead": "seawall.bulkhead.rejected",
    "load_shedder": "seawall.load_shedder.shed",
}


class _Call:
    """A traced call: its span, and its last failed attempt, ended once its fate is known."""

    __slots__ = ("error", "failed", "failed_at", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.failed: trace.Span | None = None
        self.failed_at = 0
        self.error: BaseException | None = None

    def settle(self, error: BaseException | None = None) -> None:
        """End the failed attempt: an error only if its error is the call's final one."""
        failed = self.failed
        if failed is None:
            return
        self.failed = None
        # The call's error is the attempt's own, or made from it (a timeout as the deadline's).
        if error is not None and self.error is not None and self.error in (error, error.__cause__):
            failed.set_status(Status(StatusCode.ERROR, _describe(error)))
        failed.end(end_time=self.failed_at)


_call: ContextVar[_Call | None] = ContextVar("seawall_traced_call", default=None)
# The CLIENT span of the attempt running now: the edge describes this one, never a span
# of the caller's (a streaming call, sent without an attempt span, describes none).
_client: ContextVar[trace.Span | None] = ContextVar("seawall_client_span", default=None)


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _policy_name(seg: _drive.Segment) -> str:
    for core in (seg.fallback, seg.retry, seg.breaker, seg.bulkhead, seg.total, seg.attempt):
        name = getattr(core, "name", None)
        if isinstance(name, str):
            return name
    return "call"


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        lowered = name.lower()
        if lowered in (b"traceparent", b"tracestate"):
            carrier[lowered.decode("latin-1")] = value.decode("latin-1")
    return carrier


def _recording_check() -> Callable[[], bool]:
    """Whether the span in effect is recording, as cheaply as OpenTelemetry allows.

    This runs on every protected call once tracing is installed, sampled or not. With the
    API's default contextvars runtime context, the span is read straight from its context
    variable (three times cheaper than ``get_current_span()``); any other runtime context
    goes through the public API.
    """
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    key = getattr(_propagation, "_SPAN_KEY", None)
    if isinstance(variable, ContextVar) and isinstance(key, str):
        get = variable.get

        def recording() -> bool:
            span = get().get(key)
            return span is not None and span.is_recording()

        return recording
    return lambda: trace.get_current_span().is_recording()


_recording = _recording_check()


def _span_reader() -> tuple[Callable[[], Any] | None, str]:
    """(the context variable's ``get``, the span's key), or (None, "") off contextvars."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    key = getattr(_propagation, "_SPAN_KEY", None)
    if isinstance(variable, ContextVar) and isinstance(key, str):
        return variable.get, key
    return None, ""


def _span_context() -> tuple[Callable[[], Any], str]:
    """How the driver reads the span in effect: ``context().get(key)``.

    Off the default contextvars runtime context, ``context`` asks the public API.
    """
    if _CONTEXT_GET is not None:
        return _CONTEXT_GET, _SPAN_KEY
    return (lambda: {"span": trace.get_current_span()}), "span"


# The unsampled call is the common one and pays this check on every call: read inline in
# Spans.call, it costs no function call of its own.
_CONTEXT_GET, _SPAN_KEY = _span_reader()


class Spans:
    """What the driver and the edges call while tracing is installed (see :mod:`_drive`)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    # -- the driver: a span per call, a child per attempt ---------------------------------

    def _variants(self, seg: _drive.Segment, fn: Any, aio: bool) -> tuple[Any, Any, Any]:
        """(this, the plain driver, the driver with attempt spans) of ``seg``, made once."""
        variants = seg.traced
        if variants is None or variants[0] is not self:
            compile_ = _drive.untraced_async if aio else _drive.untraced_sync
            wrap = self._attempt_async if aio else self._attempt_sync
            plain = compile_(seg, fn)
            traced = compile_(seg, wrap(fn, _policy_name(seg))) if seg.retry else plain
            variants = seg.traced = (self, plain, traced)
        return variants  # type: ignore[no-any-return]

    def _start(self, seg: _drive.Segment) -> tuple[_Call, object, object]:
        name = _policy_name(seg)
        span = self.tracer.start_span(
            f"seawall {name}",
            kind=SpanKind.INTERNAL,
            attributes={"seawall.policy.name": name},
            record_exception=False,
            set_status_on_exception=False,
        )
        state = _Call(span)
        return state, _call.set(state), otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def _finish(state: _Call, tokens: tuple[object, object], error: BaseException | None) -> None:
        state.settle(error)
        span = state.span
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, _describe(error)))
        span.end()
        otel_context.detach(tokens[1])  # type: ignore[arg-type]
        _call.reset(tokens[0])  # type: ignore[arg-type]

    def call(self, seg: _drive.Segment, fn: Any, args: Sequence[Any], kwargs: Any) -> Any:
        variants = seg.traced
        if variants is None or variants[0] is not self:
            variants = self._variants(seg, fn, aio=False)
        get = _CONTEXT_GET
        if get is not None:
            span = get().get(_SPAN_KEY)
            if span is None or not span.is_recording():
                return variants[1](*args, **kwargs)
        elif not _recording():
            return variants[1](*args, **kwargs)
        state, *tokens = self._start(seg)
        try:
            result = variants[2](*args, **kwargs)
        except BaseException as exc:
            self._finish(state, (tokens[0], tokens[1]), exc)
            raise
        self._finish(state, (tokens[0], tokens[1]), None)
        return result

    async def acall(self, seg: _drive.Segment, fn: Any, args: Sequence[Any], kwargs: Any) -> Any:
        variants = seg.traced
        if variants is None or variants[0] is not self:
            variants = self._variants(seg, fn, aio=True)
        if not _recording():
            return await variants[1](*args, **kwargs)
        state, *tokens = self._start(seg)
        try:
            result = await variants[2](*args, **kwargs)
        except BaseException as exc:
            self._finish(state, (tokens[0], tokens[1]), exc)
            raise
        self._finish(state, (tokens[0], tokens[1]), None)
        return result

    def _open_attempt(self, name: str, client: str | None) -> tuple[_Call | None, trace.Span, Any]:
        state = _call.get()
        if state is not None:
            state.settle()  # the attempt before this one failed and was retried
        attempt = current_attempt()
        if client == "http":
            span = self.tracer.start_span(
                "HTTP",
                kind=SpanKind.CLIENT,
                attributes={"http.request.resend_count": attempt - 1},
                record_exception=False,
                set_status_on_exception=False,
            )
        elif client == "rpc":
            span = self.tracer.start_span(
                "RPC",
                kind=SpanKind.CLIENT,
                attributes={"rpc.system": "grpc", "seawall.attempt": attempt},
                record_exception=False,
                set_status_on_exception=False,
            )
        else:
            span = self.tracer.start_span(
                f"seawall {name} attempt",
                kind=SpanKind.INTERNAL,
                attributes={"seawall.policy.name": name, "seawall.attempt": attempt},
                record_exception=False,
                set_status_on_exception=False,
            )
        token = otel_context.attach(trace.set_span_in_context(span))
        return state, span, (token, _client.set(span if client else None))

    @staticmethod
    def _close(tokens: Any) -> None:
        _client.reset(tokens[1])
        otel_context.detach(tokens[0])

    @staticmethod
    def _failed(state: _Call | None, span: trace.Span, exc: BaseException) -> None:
        if not isinstance(getattr(exc, "status_code", None), int):
            span.set_attribute("error.type", type(exc).__qualname__)  # else: the edge's status
        if state is None:
            span.end()
            return
        # Whether this failure is an error depends on what the call does next.
        state.failed, state.failed_at, state.error = span, time.time_ns(), exc

    def _attempt_sync(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        client = getattr(fn, _drive.CLIENT_ATTEMPT, None)

        def attempt(*args: Any, **kwargs: Any) -> Any:
            state, span, tokens = self._open_attempt(name, client)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(state, span, exc)
                raise
            else:
                span.end()
            finally:
                self._close(tokens)
            return result

        return attempt

    def _attempt_async(
        self, fn: Callable[..., Awaitable[Any]], name: str
    ) -> Callable[..., Awaitable[Any]]:
        client = getattr(fn, _drive.CLIENT_ATTEMPT, None)

        async def attempt(*args: Any, **kwargs: Any) -> Any:
            state, span, tokens = self._open_attempt(name, client)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                self._failed(state, span, exc)
                raise
            else:
                span.end()
            finally:
                self._close(tokens)
            return result

        return attempt

    # -- client edges: the attempt's request, and its context on the wire ----------------

    def client_request(self, headers: Any, method: str, url: str) -> None:
        """Describe an HTTP attempt on its CLIENT span and send its trace context."""
        span = _client.get()
        if span is not None and span.is_recording():
            span.update_name(method)
            span.set_attributes(_http_client(method, url))
        propagate.inject(headers)

    def client_status(self, status: int) -> None:
        span = _client.get()
        if span is not None and span.is_recording():
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_attribute("error.type", str(status))

    def client_rpc(self, metadata: list[tuple[str, Any]], method: str, target: str) -> None:
        """Describe a gRPC attempt on its CLIENT span and send its trace context."""
        span = _client.get()
        if span is not None and span.is_recording():
            path = method.lstrip("/")
            service, _, name = path.rpartition("/")
            span.update_name(path)
            span.set_attributes(
                {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
                | _address(target)
            )
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata.extend(carrier.items())

    # -- server edges: a SERVER span, child of the caller's context ------------------------

    def server_span(
        self, carrier: dict[str, str], name: str, attributes: dict[str, Any]
    ) -> tuple[trace.Span, object]:
        span = self.tracer.start_span(
            name,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        return span, otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def server_end(span: trace.Span, token: object, status: int | None, error: Any) -> None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, _describe(error)))
        elif status is not None and status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    async def asgi(self, app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve one ASGI request in a SERVER span (the ``protect()`` edge)."""
        method = scope.get("method", "GET")
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope.get("path", "/"),
            "url.scheme": scope.get("scheme", "http"),
        }
        server = scope.get("server")
        if server:
            attributes["server.address"], attributes["server.port"] = server[0], server[1]
        span, token = self.server_span(_headers(scope), method, attributes)
        status: list[int] = []

        async def sent(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await app({**scope, TRACED: True}, receive, sent)
        except BaseException as exc:
            self.server_end(span, token, status[0] if status else None, exc)
            raise
        route = scope.get("route")
        template = getattr(route, "path", None)
        if isinstance(template, str):
            span.set_attribute("http.route", template)
            span.update_name(f"{method} {template}")
        self.server_end(span, token, status[0] if status else None, None)

    def wsgi(self, app: Callable[..., Any], environ: dict[str, Any], start_response: Any) -> Any:
        """Serve one WSGI request in a SERVER span (``seawall.wsgi.protect``).

        The span ends when the app returns its body: the edge holds the response until
        then, so the status is known.
        """
        method = environ.get("REQUEST_METHOD", "GET")
        carrier = {
            name: environ[key]
            for key, name in (
                ("HTTP_TRACEPARENT", "traceparent"),
                ("HTTP_TRACESTATE", "tracestate"),
            )
            if key in environ
        }
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": environ.get("PATH_INFO") or "/",
            "url.scheme": environ.get("wsgi.url_scheme", "http"),
        }
        span, token = self.server_span(carrier, method, attributes)
        status: list[int] = []

        def started(line: str, headers: Any, exc_info: Any = None) -> Any:
            with contextlib.suppress(ValueError):
                status.append(int(line.split(" ", 1)[0]))
            return start_response(line, headers, exc_info)

        try:
            result = app({**environ, TRACED: True}, started)
        except BaseException as exc:
            self.server_end(span, token, status[0] if status else None, exc)
            raise
        self.server_end(span, token, status[0] if status else None, None)
        return result

    def rpc_server(self, metadata: Iterable[Any] | None, method: str) -> tuple[trace.Span, object]:
        """A SERVER span for one gRPC call, child of the context in its metadata."""
        carrier = {
            k.lower(): v
            for k, v in metadata or ()
            if isinstance(v, str) and k.lower() in ("traceparent", "tracestate")
        }
        path = method.lstrip("/")
        service, _, name = path.rpartition("/")
        return self.server_span(
            carrier,
            path,
            {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )

    @staticmethod
    def rpc_server_end(
        span: trace.Span, token: object, error: BaseException | None, context: Any
    ) -> None:
        code = _rpc_code(context)
        if code is not None:
            span.set_attribute("rpc.grpc.status_code", code)
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, _describe(error)))
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    # -- what the policies decide, as span events -----------------------------------------

    @staticmethod
    def event(event: Event) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attributes: dict[str, Any] = {
            "seawall.policy": event.policy,
            "seawall.policy.name": event.name,
        }
        match event:
            case RetryScheduled(attempt=n, delay=delay, error=error):
                name = "seawall.retry.scheduled"
                attributes |= {
                    "seawall.attempt": n,
                    "seawall.retry.delay": delay,
                    "error.type": type(error).__qualname__,
                }
            case RetryRefused(attempt=n, reason=reason, error=error):
                name = "seawall.retry.refused"
                attributes |= {
                    "seawall.attempt": n,
                    "seawall.retry.reason": reason,
                    "error.type": type(error).__qualname__,
                }
            case CallRejected(reason=reason, retry_after=retry_after):
                name = _REJECTED.get(event.policy, f"seawall.{event.policy}.rejected")
                attributes["seawall.reason"] = reason
                if retry_after is not None:
                    attributes["seawall.retry_after"] = retry_after
            case FallbackUsed(error=error):
                name = "seawall.fallback.used"
                attributes["error.type"] = type(error).__qualname__
            case BreakerStateChanged(old=old, new=new):
                name = "seawall.circuit_breaker.state_changed"
                attributes |= {
                    "seawall.circuit_breaker.from": old,
                    "seawall.circuit_breaker.to": new,
                }
            case TimedOut(timeout=timeout):
                name = "seawall.timeout"
                if timeout is not None:
                    attributes["seawall.timeout"] = timeout
            case _:
                return
        span.add_event(name, attributes)


def _rpc_code(context: Any) -> int | None:
    """The status code a gRPC handler set or aborted with, as its number."""
    code = getattr(context, "code", None)
    try:
        value = code() if callable(code) else None
    except Exception:  # not every context can tell
        return None
    if value is None:
        return None
    number = getattr(value, "value", value)
    if isinstance(number, tuple):  # grpc.StatusCode's value is (number, name)
        number = number[0]
    return number if isinstance(number, int) else None


def _address(target: str) -> dict[str, Any]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return {"server.address": target}
    return {"server.address": host.strip("[]"), "server.port": int(port)}


def _http_client(method: str, url: str) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    attributes: dict[str, Any] = {"http.request.method": method, "url.full": _redacted(url)}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    if port:
        attributes["server.port"] = port
    return attributes


def _redacted(url: str) -> str:
    """``url`` without credentials, which semantic conventions say must not be recorded."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"REDACTED:REDACTED@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def install(tracer_provider: trace.TracerProvider | None = None) -> None:
    """Turn spans on, from ``tracer_provider`` (OpenTelemetry's global one by default)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("seawall")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        release = None
    tracer = trace.get_tracer("seawall", release, tracer_provider=tracer_provider)
    spans = Spans(tracer)
    set_span_sink(spans.event)
    _drive.tracing.context, _drive.tracing.key = _span_context()
    _drive.tracing.spans = spans


def uninstall() -> None:
    """Turn spans off again: calls run the plain driver, edges send no trace context."""
    _drive.tracing.spans = None
    _drive.tracing.context, _drive.tracing.key = _drive.Tracing().context, ""
    set_span_sink(None)


def installed() -> bool:
    return _drive.tracing.spans is not None
