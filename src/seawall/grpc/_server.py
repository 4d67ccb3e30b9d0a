"""The server edge for grpcio: a deadline scope and priority shedding per call.

For every call the interceptor:

* opens a :func:`seawall.deadline` scope of ``context.time_remaining()`` — the caller's
  ``grpc-timeout`` as grpcio parsed it — capped at ``max_timeout``, so a caller cannot
  hold the server longer than it allows, and a call without a deadline gets the cap;
* reads ``x-request-priority`` (critical / high / normal / low; anything else counts as
  the default, since a header must never crash the server) and opens the matching
  :func:`seawall.priority` scope, so the client interceptors propagate it downstream;
* asks a :class:`~seawall.LoadShedder` for a permit; a refused call is answered at once
  with RESOURCE_EXHAUSTED and ``grpc-retry-pushback-ms`` trailing metadata, the gRPC
  form of ``Retry-After``. The health service is never shed: a busy replica is not a
  dead one.

A unary-response call whose handler failed after a call it made downstream was spent
ends with ``grpc-retry-pushback-ms: -1`` (gRFC A6: do not retry), so only the layer
right above a failing dependency retries (:mod:`seawall.grpc._pushback`).

Before all that, a :class:`~seawall.RateLimiter` (``rate_limit=``) may hold each caller
to its quota: a call over it is answered RESOURCE_EXHAUSTED with
``grpc-retry-pushback-ms`` (the exact wait) and the HTTP edge's ``ratelimit`` and
``ratelimit-policy`` fields as trailing metadata, before it is shed-counted. The caller
is ``rate_limit_key(context)``, by default the hashed ``authorization`` metadata, else
the peer's address. Health checks are never rate limited.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import grpc
import grpc.aio

from seawall import ConfigError, LoadShed, LoadShedder, RateLimited, RateLimiter, deadline, priority
from seawall._clock import SYSTEM_CLOCK
from seawall._deadline import _current as _deadline
from seawall._deadline import enter
from seawall._drive import tracing
from seawall._durations import RPC_SERVER, rpc_labels
from seawall._priority import PRIORITY_RANK
from seawall._priority import _current as _priority
from seawall._pushback import noted
from seawall._quota_fields import check_policy_name, limit_field, policy_field
from seawall.grpc._plain import drained, invoke
from seawall.grpc._pushback import after_answer, after_error
from seawall.grpc._status import PUSHBACK_KEY
from seawall.http._principal import principal_of
from seawall.policies._gcra import Verdict
from seawall.wire import PRIORITIES, PRIORITY_HEADER

__all__ = [
    "HEALTH_PREFIX",
    "AsyncServerInterceptor",
    "ServerInterceptor",
    "aio_server_interceptor",
    "call_priority",
    "server_interceptor",
]

HEALTH_PREFIX = "/grpc.health.v1.Health/"
_KINDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
_CACHE_LIMIT = 4096
_UNKNOWN = int(grpc.StatusCode.UNKNOWN.value[0])


def call_priority(metadata: Sequence[Any] | None, default: str = "normal") -> str:
    """The priority a call's metadata asks for; ``default`` when absent or malformed."""
    # grpcio hands metadata over as (key, value) pairs with lower-case keys: one pass
    # over them settles the common case; anything else takes the careful reading.
    try:
        for key, value in metadata or ():
            if key == PRIORITY_HEADER:
                return _level(value, default)
            if key.__class__ is not str or not key.islower():
                break
        else:
            return default
    except (TypeError, ValueError):
        pass
    for item in metadata or ():
        key = getattr(item, "key", None)
        value = getattr(item, "value", None)
        if key is None:
            try:
                key, value = item
            except (TypeError, ValueError):
                continue
        if isinstance(key, str) and key.lower() == PRIORITY_HEADER:
            return _level(value, default)
    return default


def _level(value: Any, default: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in PRIORITIES else default


def caller_key(context: Any) -> str:
    """Who is calling: the hashed ``authorization`` metadata, else the peer's address."""
    try:
        metadata = context.invocation_metadata() or ()
    except Exception:  # a context without metadata: fall back to the peer
        metadata = ()
    for item in metadata:
        key, value = getattr(item, "key", None), getattr(item, "value", None)
        if key is None:
            key, value = item
        if isinstance(key, str) and key.lower() == "authorization":
            raw = value if isinstance(value, bytes) else str(value).encode("latin-1", "replace")
            return "auth:" + principal_of([raw], (), frozenset())
    try:
        return f"peer:{context.peer()}"
    except Exception:
        return "peer:unknown"


def _refusal(limiter: RateLimiter, refused: RateLimited) -> tuple[tuple[str, str], ...]:
    """The trailing metadata of a call over its quota."""
    wait = refused.retry_after or 1.0
    verdict = Verdict(False, refused.remaining, wait, refused.reset)
    return (
        (PUSHBACK_KEY, str(math.ceil(wait * 1000.0 - 1e-6))),  # 0.3 s is 300 ms, not 301
        ("ratelimit-policy", policy_field(limiter.name, limiter.quota).decode()),
        ("ratelimit", limit_field(limiter.name, verdict, limiter.quota).decode()),
    )


def _pushback_ms(shed: LoadShed) -> str:
    wait = shed.retry_after
    if wait is None or not math.isfinite(wait) or wait < 0.0:
        wait = 0.0
    return str(math.ceil(wait * 1000.0))


class _Edge:
    """What both interceptors share: configuration, and the per-call decisions."""

    def __init__(
        self,
        *,
        max_timeout: float,
        shedder: LoadShedder | None,
        default_priority: str,
        trust_priority: bool,
        rate_limit: RateLimiter | None = None,
        rate_limit_key: Callable[[Any], str] | None = None,
    ) -> None:
        if rate_limit is not None:
            if not isinstance(rate_limit, RateLimiter):
                raise ConfigError(f"rate_limit must be a seawall.RateLimiter, got {rate_limit!r}")
            check_policy_name(rate_limit.name)
        elif rate_limit_key is not None:
            raise ConfigError("rate_limit_key= applies to rate_limit=, which is not set")
        if rate_limit_key is not None and not callable(rate_limit_key):
            raise ConfigError(
                f"rate_limit_key must be a function of the call context, got {rate_limit_key!r}"
            )
        self.rate_limit = rate_limit
        self.rate_limit_key = rate_limit_key or caller_key
        if isinstance(max_timeout, bool) or not isinstance(max_timeout, (int, float)):
            raise ConfigError(f"max_timeout must be a number of seconds, got {max_timeout!r}")
        if not (math.isfinite(max_timeout) and max_timeout > 0.0):
            raise ConfigError(f"max_timeout must be positive and finite, got {max_timeout!r}")
        if shedder is not None and not isinstance(shedder, LoadShedder):
            raise ConfigError(f"shedder must be a seawall.LoadShedder, got {shedder!r}")
        if default_priority not in PRIORITIES:
            raise ConfigError(
                f"default_priority must be one of {', '.join(PRIORITIES)}, got {default_priority!r}"
            )
        self.max_timeout = float(max_timeout)
        self.shedder = shedder
        self.default_priority = default_priority
        self.trust_priority = bool(trust_priority)
        # id(handler) -> (handler, wrapped); the handler is kept, so its id is not reused
        self._cache: dict[int, tuple[Any, Any]] = {}

    def budget(self, context: Any) -> float:
        try:
            left = context.time_remaining()
        except Exception:  # a context without a deadline API: the server's own cap
            left = None
        if left.__class__ is float and 0.0 <= left <= self.max_timeout:
            return left  # the caller's deadline, within the cap
        if not isinstance(left, (int, float)) or not math.isfinite(left):
            return self.max_timeout
        return max(0.0, min(float(left), self.max_timeout))

    def priority_of(self, context: Any) -> str:
        if not self.trust_priority:
            return self.default_priority
        try:
            metadata = context.invocation_metadata()
        except Exception:  # a context without metadata: the default, never a crash
            return self.default_priority
        return call_priority(metadata, self.default_priority)

    def sheds(self, method: Any) -> bool:
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        return self.shedder is not None and not str(method).startswith(HEALTH_PREFIX)

    def limits(self, method: Any) -> bool:
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        return self.rate_limit is not None and not str(method).startswith(HEALTH_PREFIX)

    def key(self, context: Any) -> str:
        key = self.rate_limit_key(context)
        if not isinstance(key, str):
            raise ConfigError(f"rate_limit_key returned {key!r}, not a string")
        return key

    def wrapped(
        self, handler: Any, method: Any, wrap: Callable[[Any, str, bool, bool], Any]
    ) -> Any:
        """``handler`` wrapped once per handler object, not once per call."""
        cached = self._cache.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        kind = _kind(handler)
        if kind is None:
            return handler
        result = _traced(wrap(handler, kind, self.sheds(method), self.limits(method)), kind, method)
        if len(self._cache) >= _CACHE_LIMIT:  # handlers made per call must not grow it
            self._cache.clear()
        self._cache[id(handler)] = (handler, result)
        return result


def _traced(handler: Any, kind: str, method: Any) -> Any:
    """``handler`` timed into ``rpc.server.duration``, and in a SERVER span (child of the
    caller's ``traceparent``) while tracing is installed. Unary-response calls only: a
    streamed response has no one end to time."""
    if kind not in ("unary_unary", "stream_unary"):
        return handler
    inner = getattr(handler, kind)
    path = method.decode("utf-8", "replace") if isinstance(method, bytes) else str(method)
    service, name = rpc_labels(path)

    def observe(context: Any, error: BaseException | None, started: float) -> None:
        code = _final_code(context, error)
        RPC_SERVER.record((service, name, code), time.perf_counter() - started)

    if inspect.iscoroutinefunction(inner):

        async def aserved(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            spans = tracing.spans
            span, token = (None, None)
            if spans is not None:
                span, token = spans.rpc_server(context.invocation_metadata(), path)
            error: BaseException | None = None
            try:
                return await inner(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                if spans is not None:
                    spans.rpc_server_end(span, token, error, context)
                observe(context, error, started)

        return _rebuild(handler, kind, aserved)

    def spanned(request: Any, context: Any, spans: Any, started: float) -> Any:
        span, token = spans.rpc_server(context.invocation_metadata(), path)
        error: BaseException | None = None
        try:
            return inner(request, context)
        except BaseException as exc:
            error = exc
            raise
        finally:
            spans.rpc_server_end(span, token, error, context)
            observe(context, error, started)

    def served(request: Any, context: Any) -> Any:
        started = time.perf_counter()
        spans = tracing.spans
        if spans is not None:
            return spanned(request, context, spans, started)
        try:
            result = inner(request, context)
        except BaseException as exc:
            observe(context, exc, started)
            raise
        observe(context, None, started)
        return result

    return _rebuild(handler, kind, served)


def _final_code(context: Any, error: BaseException | None) -> int:
    """The status code the call ends with: the one the handler set (or aborted with),
    else OK for an answer and UNKNOWN for an exception, as grpcio sends them."""
    try:
        code = context.code()
    except Exception:  # a context without code(): judge by the outcome alone
        code = None
    if code is None:
        return 0 if error is None else _UNKNOWN
    if isinstance(code, grpc.StatusCode):
        return int(code.value[0])
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return 0 if error is None else _UNKNOWN


def _rebuild(
    handler: grpc.RpcMethodHandler[Any, Any], kind: str, behaviour: Callable[..., Any]
) -> Any:
    make = getattr(grpc, f"{kind}_rpc_method_handler")
    return make(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _kind(handler: grpc.RpcMethodHandler[Any, Any]) -> str | None:
    for kind in _KINDS:
        if getattr(handler, kind, None) is not None:
            return kind
    return None


class ServerInterceptor(grpc.ServerInterceptor):
    """Deadline scope, priority and shedding for a sync ``grpc.server``."""

    def __init__(self, edge: _Edge) -> None:
        self._edge = edge

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._edge.wrapped(handler, handler_call_details.method, self._wrap)

    def _wrap(self, handler: Any, kind: str, shed: bool, limit: bool) -> Any:
        edge = self._edge
        inner = getattr(handler, kind)

        def admit(context: Any, name: str) -> Any:
            if limit:
                assert edge.rate_limit is not None
                try:
                    edge.rate_limit.acquire(edge.key(context))
                except RateLimited as refused:
                    context.set_trailing_metadata(_refusal(edge.rate_limit, refused))
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))
            if not shed:
                return None
            assert edge.shedder is not None
            admission = edge.shedder.admit(name)
            try:
                admission.__enter__()
            except LoadShed as refused:
                context.set_trailing_metadata(((PUSHBACK_KEY, _pushback_ms(refused)),))
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))
            return admission

        if kind.endswith("_stream"):

            def streaming(request: Any, context: Any) -> Iterator[Any]:
                name = edge.priority_of(context)
                admission = admit(context, name)
                try:
                    with deadline(edge.budget(context)), priority(name):
                        yield from inner(request, context)
                finally:
                    if admission is not None:
                        admission.__exit__(None, None, None)

            return _rebuild(handler, kind, streaming)

        shedder = edge.shedder if shed else None
        fixed = shedder is not None and shedder.fixed

        def unary(request: Any, context: Any) -> Any:
            name = edge.priority_of(context)
            # A fixed limit with room admits at once, with no permit object to carry.
            permit = fixed and not limit and shedder.enter_now(PRIORITY_RANK[name])  # type: ignore[union-attr]
            admission = None if permit else admit(context, name)
            try:
                # The scopes are set directly: the budget and the level are already checked.
                token = enter(edge.budget(context), SYSTEM_CLOCK)[1]
                level = _priority.set(name)
                try:
                    result = inner(request, context)
                finally:
                    _priority.reset(level)
                    _deadline.reset(token)
            except Exception as exc:
                after_error(context, exc)  # "do not retry" for a spent call
                raise
            finally:
                if permit:
                    shedder.leave_now()  # type: ignore[union-attr]
                elif admission is not None:
                    admission.__exit__(None, None, None)
            if noted():  # also cleared before the thread's next call
                after_answer(context)
            return result

        return _rebuild(handler, kind, unary)


class AsyncServerInterceptor(grpc.aio.ServerInterceptor):
    """The ``grpc.aio`` twin of :class:`ServerInterceptor`."""

    def __init__(self, edge: _Edge) -> None:
        self._edge = edge

    async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._edge.wrapped(handler, handler_call_details.method, self._wrap)

    def _wrap(self, handler: Any, kind: str, shed: bool, limit: bool) -> Any:
        edge = self._edge
        inner = getattr(handler, kind)

        async def admit(context: Any, name: str) -> Any:
            if limit:
                assert edge.rate_limit is not None
                try:
                    await edge.rate_limit.aacquire(edge.key(context))
                except RateLimited as refused:
                    context.set_trailing_metadata(_refusal(edge.rate_limit, refused))
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))
            if not shed:
                return None
            assert edge.shedder is not None
            admission = edge.shedder.admit(name)
            try:
                await admission.__aenter__()
            except LoadShed as refused:
                context.set_trailing_metadata(((PUSHBACK_KEY, _pushback_ms(refused)),))
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused))
            return admission

        if kind.endswith("_stream"):

            async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
                name = edge.priority_of(context)
                admission = await admit(context, name)
                try:
                    async with deadline(edge.budget(context)), priority(name):
                        result = await invoke(inner, kind, request, context)
                        if hasattr(result, "__aiter__"):
                            async for item in result:
                                yield item
                        elif hasattr(result, "__next__"):
                            async for item in drained(result):
                                yield item
                        elif inspect.isawaitable(result):
                            await result
                finally:
                    if admission is not None:
                        await admission.__aexit__(None, None, None)

            return _rebuild(handler, kind, streaming)

        async def unary(request: Any, context: Any) -> Any:
            name = edge.priority_of(context)
            admission = await admit(context, name)
            try:
                async with deadline(edge.budget(context)), priority(name):
                    result = await invoke(inner, kind, request, context)
                    if inspect.isawaitable(result):
                        result = await result
            except Exception as exc:
                after_error(context, exc)  # "do not retry" for a spent call
                raise
            finally:
                if admission is not None:
                    await admission.__aexit__(None, None, None)
            if noted():
                after_answer(context)
            return result

        return _rebuild(handler, kind, unary)


def _edge(
    max_timeout: float,
    shedder: LoadShedder | None,
    default_priority: str,
    trust_priority: bool,
    rate_limit: RateLimiter | None = None,
    rate_limit_key: Callable[[Any], str] | None = None,
) -> _Edge:
    return _Edge(
        max_timeout=max_timeout,
        shedder=shedder,
        default_priority=default_priority,
        trust_priority=trust_priority,
        rate_limit=rate_limit,
        rate_limit_key=rate_limit_key,
    )


def server_interceptor(
    *,
    max_timeout: float = 30.0,
    shedder: LoadShedder | None = None,
    default_priority: str = "normal",
    trust_priority: bool = True,
    rate_limit: RateLimiter | None = None,
    rate_limit_key: Callable[[Any], str] | None = None,
) -> ServerInterceptor:
    """The interceptor for ``grpc.server(..., interceptors=[...])``.

    ``max_timeout`` caps the deadline scope (a call without ``grpc-timeout`` gets it);
    ``shedder`` admits calls by priority (none: nothing is shed; size it below the
    server's thread pool, or the pool queues before the shedder can refuse);
    ``default_priority`` is what a call without a valid ``x-request-priority`` gets;
    ``trust_priority=False`` ignores the header (for servers facing untrusted callers);
    ``rate_limit`` holds each caller (``rate_limit_key(context)``) to its quota.
    """
    return ServerInterceptor(
        _edge(max_timeout, shedder, default_priority, trust_priority, rate_limit, rate_limit_key)
    )


def aio_server_interceptor(
    *,
    max_timeout: float = 30.0,
    shedder: LoadShedder | None = None,
    default_priority: str = "normal",
    trust_priority: bool = True,
    rate_limit: RateLimiter | None = None,
    rate_limit_key: Callable[[Any], str] | None = None,
) -> AsyncServerInterceptor:
    """The interceptor for ``grpc.aio.server(interceptors=[...])``.

    The options are :func:`server_interceptor`'s.
    """
    return AsyncServerInterceptor(
        _edge(max_timeout, shedder, default_priority, trust_priority, rate_limit, rate_limit_key)
    )
