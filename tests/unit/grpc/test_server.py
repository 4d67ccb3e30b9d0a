"""The server interceptor: deadline scope, priority, shedding — and no crash on bad metadata."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seawall
import seawall.grpc
from seawall.wire import PRIORITIES


class CallDetails(NamedTuple):
    method: str
    invocation_metadata: Any


class Aborted(Exception):
    pass


class Context:
    """The parts of a ``grpc.ServicerContext`` the interceptor reads and writes."""

    def __init__(self, left: Any) -> None:
        self.left = left
        self.metadata: Any = ()
        self.trailing: Any = None
        self.code: grpc.StatusCode | None = None

    def time_remaining(self) -> Any:
        return self.left

    def invocation_metadata(self) -> Any:
        return self.metadata

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = metadata

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        raise Aborted(details)


def seen() -> tuple[str | None, float | None]:
    return seawall.current_priority(), seawall.remaining()


def run(
    interceptor: seawall.grpc.ServerInterceptor,
    metadata: Any,
    context: Context,
    method: str = "/svc.S/M",
    behaviour: Callable[..., Any] = lambda request, context: seen(),
) -> Any:
    handler = grpc.unary_unary_rpc_method_handler(behaviour)
    wrapped = interceptor.intercept_service(lambda d: handler, CallDetails(method, metadata))
    context.metadata = metadata
    return wrapped.unary_unary(b"", context)


def test_deadline_scope_from_time_remaining_capped() -> None:
    interceptor = seawall.grpc.server_interceptor(max_timeout=2.0)
    _, left = run(interceptor, (), Context(0.5))
    assert left is not None
    assert 0.45 < left <= 0.5
    _, capped = run(interceptor, (), Context(60.0))
    assert capped is not None
    assert 1.9 < capped <= 2.0
    _, without = run(interceptor, (), Context(None))
    assert without is not None
    assert 1.9 < without <= 2.0


def test_priority_scope_from_metadata() -> None:
    interceptor = seawall.grpc.server_interceptor()
    assert run(interceptor, (("x-request-priority", "HIGH"),), Context(1.0))[0] == "high"
    assert run(interceptor, (("x-request-priority", "nope"),), Context(1.0))[0] == "normal"
    untrusting = seawall.grpc.server_interceptor(trust_priority=False, default_priority="low")
    assert run(untrusting, (("x-request-priority", "critical"),), Context(1.0))[0] == "low"


def test_shed_calls_get_resource_exhausted_with_pushback_and_health_is_never_shed() -> None:
    shedder = seawall.LoadShedder("unit", limit=1, max_queue=0)
    interceptor = seawall.grpc.server_interceptor(shedder=shedder)
    inner_results: list[Any] = []

    def nested(request: bytes, context: Any) -> Any:
        context2 = Context(1.0)
        with pytest.raises(Aborted):
            run(interceptor, (("x-request-priority", "low"),), context2)
        inner_results.append(context2)
        inner_results.append(run(interceptor, (), Context(1.0), "/grpc.health.v1.Health/Check"))
        return "outer"

    assert run(interceptor, (), Context(1.0), behaviour=nested) == "outer"
    refused, health = inner_results
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    ((key, value),) = refused.trailing
    assert key == "grpc-retry-pushback-ms"
    assert int(value) > 0
    assert health[0] == "normal"
    assert shedder.statistics().inflight == 0


def test_handlers_are_wrapped_once_not_per_call() -> None:
    interceptor = seawall.grpc.server_interceptor()
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: seen())
    first = interceptor.intercept_service(lambda d: handler, CallDetails("/s/M", ()))
    again = interceptor.intercept_service(lambda d: handler, CallDetails("/s/M", ()))
    assert first is again
    context = Context(1.0)
    context.metadata = (("x-request-priority", "low"),)
    assert again.unary_unary(b"", context)[0] == "low"


@pytest.mark.parametrize(
    "options",
    [
        {"max_timeout": 0},
        {"max_timeout": float("inf")},
        {"max_timeout": "30"},
        {"shedder": object()},
        {"default_priority": "urgent"},
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.server_interceptor(**options)
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.aio_server_interceptor(**options)


def test_serve_checks_its_arguments_before_starting() -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.serve(None, grace=-1)  # type: ignore[arg-type]
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.serve(None, drain_delay=float("nan"))  # type: ignore[arg-type]


_keys = st.sampled_from(
    ["x-request-priority", "grpc-timeout", "x-request-timeout-ms", "idempotency-key"]
) | st.text(max_size=20)
_values = st.text(max_size=30) | st.binary(max_size=30)
_left = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=3)


@given(
    metadata=st.lists(st.tuples(_keys, _values), max_size=6)
    | st.lists(st.text(max_size=3), max_size=3),
    left=_left,
)
def test_malformed_metadata_never_crashes_the_interceptor(metadata: Any, left: Any) -> None:
    interceptor = seawall.grpc.server_interceptor(
        max_timeout=5.0, shedder=seawall.LoadShedder("fuzz", limit=4)
    )
    priority, remaining = run(interceptor, metadata, Context(left))
    assert priority in PRIORITIES
    assert remaining is not None
    assert math.isfinite(remaining)
    assert remaining <= 5.0


class AioContext(Context):
    async def abort(self, code: grpc.StatusCode, details: str) -> None:  # type: ignore[override]
        self.code = code
        raise Aborted(details)


def test_aio_interceptor_scopes_and_sheds() -> None:
    import asyncio

    shedder = seawall.LoadShedder("aio-unit", limit=1, max_queue=0)
    interceptor = seawall.grpc.aio_server_interceptor(shedder=shedder, max_timeout=2.0)

    async def wrap(behaviour: Any, metadata: Any) -> Any:
        handler = grpc.unary_unary_rpc_method_handler(behaviour)

        async def continuation(details: Any) -> Any:
            return handler

        details = CallDetails("/svc.S/M", metadata)
        behaviour = (await interceptor.intercept_service(continuation, details)).unary_unary

        async def call(request: bytes, context: Any) -> Any:
            context.metadata = metadata
            return await behaviour(request, context)

        return call

    async def scoped(request: bytes, context: Any) -> Any:
        refused = AioContext(1.0)
        low = await wrap(scoped_low, (("x-request-priority", "low"),))
        with pytest.raises(Aborted):
            await low(b"", refused)
        return seen(), refused

    async def scoped_low(request: bytes, context: Any) -> Any:
        return seen()

    async def main() -> Any:
        outer = await wrap(scoped, (("x-request-priority", "critical"),))
        return await outer(b"", AioContext(0.5))

    (priority, left), refused = asyncio.run(main())
    assert priority == "critical"
    assert left is not None
    assert 0.4 < left <= 0.5
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.trailing[0][0] == "grpc-retry-pushback-ms"
    assert shedder.statistics().inflight == 0


def test_streaming_responses_run_inside_the_scopes() -> None:
    shedder = seawall.LoadShedder("stream", limit=4)
    interceptor = seawall.grpc.server_interceptor(shedder=shedder, max_timeout=2.0)

    def stream(request: bytes, context: Any) -> Any:
        yield seen()
        yield seen()

    handler = grpc.unary_stream_rpc_method_handler(stream)
    wrapped = interceptor.intercept_service(lambda d: handler, CallDetails("/s/M", ()))
    context = Context(1.0)
    context.metadata = (("x-request-priority", "critical"),)
    items = list(wrapped.unary_stream(b"", context))
    assert [p for p, _ in items] == ["critical", "critical"]
    assert all(left is not None and left <= 1.0 for _, left in items)
    assert shedder.statistics().inflight == 0


def test_a_fixed_limit_with_room_admits_without_a_permit_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shedder = seawall.LoadShedder("in-place", limit=2, max_queue=0)
    interceptor = seawall.grpc.server_interceptor(shedder=shedder)

    def no_permits(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a call with room took a permit object")

    monkeypatch.setattr(seawall.LoadShedder, "admit", no_permits)

    def failing(request: bytes, context: Any) -> Any:
        raise ValueError("the handler failed")

    def inside(request: bytes, context: Any) -> Any:
        return shedder.statistics().inflight, seen()

    inflight, (level, _) = run(
        interceptor, (("x-request-priority", "low"),), Context(1.0), behaviour=inside
    )
    assert (inflight, level) == (1, "low")
    with pytest.raises(ValueError):
        run(interceptor, (), Context(1.0), behaviour=failing)
    stats = shedder.statistics()
    assert stats.inflight == 0
    assert stats.admitted == {"critical": 0, "high": 0, "normal": 1, "low": 1}


_priority_keys = st.sampled_from(
    ["x-request-priority", "X-Request-Priority", "X-REQUEST-PRIORITY", "user-agent", "Other", ""]
)
_priority_values = st.sampled_from(["low", " High ", "critical", "urgent", ""]) | st.binary(
    max_size=8
)


@given(st.lists(st.tuples(_priority_keys, _priority_values), max_size=5))
def test_the_first_priority_entry_decides_whatever_its_case(metadata: list[Any]) -> None:
    expected = "normal"
    for key, value in metadata:
        if key.lower() == "x-request-priority":
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            level = text.strip().lower()
            expected = level if level in PRIORITIES else "normal"
            break
    assert seawall.grpc.call_priority(metadata) == expected
