"""The client interceptors, driven with a stand-in continuation on a FakeClock."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import grpc
import pytest

import seawall
import seawall.grpc
from seawall.testing import FakeClock
from tests.unit.grpc.test_status import Failed


class Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class Outcome:
    """What a grpcio continuation returns: ``result()`` raises a failed call's error."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def result(self) -> bytes:
        if self.error is not None:
            raise self.error
        return b"ok"


class Server:
    """Answers attempts from a script of errors; records what each attempt carried."""

    def __init__(self, clock: FakeClock, *errors: Exception) -> None:
        self.clock = clock
        self.errors = list(errors)
        self.seen: list[Details] = []
        self.at: list[float] = []

    def __call__(self, details: Details, request: bytes) -> Outcome:
        self.seen.append(details)
        self.at.append(self.clock.now())
        return Outcome(self.errors.pop(0) if self.errors else None)


def details(timeout: float | None = None, metadata: Any = None) -> Details:
    return Details("/svc.S/M", timeout, metadata, None, None, None)


def interceptor(clock: FakeClock, **options: Any) -> seawall.grpc.ClientInterceptor:
    (first,) = seawall.grpc.client_interceptors("svc:50051", clock=clock, **options)
    return first


def meta(d: Details) -> dict[str, str]:
    return dict(d.metadata)


def test_timeout_is_the_deadline_minus_the_reserve_capped_per_attempt() -> None:
    clock = FakeClock()
    server = Server(clock)
    client = interceptor(clock, timeout=1.0)
    with seawall.deadline(0.5, clock=clock):
        client.intercept_unary_unary(server, details(), b"")
    with seawall.deadline(10.0, clock=clock):
        client.intercept_unary_unary(server, details(), b"")
        client.intercept_unary_unary(server, details(timeout=0.25), b"")
    assert math.isclose(server.seen[0].timeout or 0, 0.45)  # 0.5 minus a 50 ms reserve
    assert server.seen[1].timeout == 1.0  # the per-attempt cap
    assert server.seen[2].timeout == 0.25  # the caller's own timeout= is kept


def test_no_time_left_sends_nothing() -> None:
    clock = FakeClock()
    server = Server(clock)
    with seawall.deadline(0.04, clock=clock), pytest.raises(seawall.DeadlineExceeded):
        interceptor(clock).intercept_unary_unary(server, details(), b"")
    assert server.seen == []


def test_unavailable_is_retried_with_one_key_and_numbered_attempts() -> None:
    clock = FakeClock()
    unavailable = Failed(grpc.StatusCode.UNAVAILABLE)
    server = Server(clock, unavailable, Failed(grpc.StatusCode.UNAVAILABLE))
    with seawall.priority("high"):
        outcome = interceptor(clock).intercept_unary_unary(server, details(), b"")
    assert outcome.result() == b"ok"
    keys = {meta(d)["idempotency-key"] for d in server.seen}
    assert len(keys) == 1
    assert [meta(d)["x-request-attempt"] for d in server.seen] == ["1", "2", "3"]
    assert {meta(d)["x-request-priority"] for d in server.seen} == {"high"}


def test_the_callers_idempotency_key_is_kept() -> None:
    clock = FakeClock()
    server = Server(clock, Failed(grpc.StatusCode.UNAVAILABLE))
    sent = [("idempotency-key", "mine"), ("x-request-attempt", "9"), ("other", "v")]
    interceptor(clock).intercept_unary_unary(server, details(metadata=sent), b"")
    assert [meta(d)["idempotency-key"] for d in server.seen] == ["mine", "mine"]
    assert [meta(d)["x-request-attempt"] for d in server.seen] == ["1", "2"]
    assert meta(server.seen[0])["other"] == "v"


def test_pushback_sets_the_wait_before_the_next_attempt() -> None:
    clock = FakeClock()
    pushback = (("grpc-retry-pushback-ms", "700"),)
    server = Server(clock, Failed(grpc.StatusCode.RESOURCE_EXHAUSTED, pushback))
    interceptor(clock).intercept_unary_unary(server, details(), b"")
    assert len(server.seen) == 2
    assert clock.sleeps == [0.7]


@pytest.mark.parametrize(("ms", "wait"), [("10", 0.01), ("0", 0.0), ("2500", 2.5)])
def test_pushback_replaces_the_backoff_shorter_or_longer(ms: str, wait: float) -> None:
    clock = FakeClock()
    pushback = (("grpc-retry-pushback-ms", ms),)
    server = Server(clock, Failed(grpc.StatusCode.RESOURCE_EXHAUSTED, pushback))
    client = interceptor(clock, backoff=seawall.Backoff.constant(0.5), total_timeout=10.0)
    client.intercept_unary_unary(server, details(), b"")
    assert len(server.seen) == 2
    assert clock.sleeps == [wait]


def test_after_a_pushback_the_backoff_starts_over_from_the_initial_delay() -> None:
    clock = FakeClock()
    pushback = (("grpc-retry-pushback-ms", "700"),)
    server = Server(
        clock,
        Failed(grpc.StatusCode.UNAVAILABLE),
        Failed(grpc.StatusCode.RESOURCE_EXHAUSTED, pushback),
        Failed(grpc.StatusCode.UNAVAILABLE),
    )
    backoff = seawall.Backoff.exponential(initial=0.1, multiplier=2.0, jitter=0.0)
    client = interceptor(clock, attempts=4, backoff=backoff, total_timeout=10.0)
    client.intercept_unary_unary(server, details(), b"")
    assert len(server.seen) == 4
    # 0.1 s, then the server's 0.7 s, then 0.1 s again (not 0.4 s): gRPC's retry design.
    assert clock.sleeps == pytest.approx([0.1, 0.7, 0.1])


def test_pushback_past_the_deadline_or_unparseable_is_final() -> None:
    clock = FakeClock()
    client = interceptor(clock, total_timeout=10.0)
    for ms in ("3000", "2147483648", "+5", "1e3"):
        server = Server(
            clock, Failed(grpc.StatusCode.UNAVAILABLE, (("grpc-retry-pushback-ms", ms),))
        )
        with seawall.deadline(2.0, clock=clock), pytest.raises(grpc.RpcError):
            client.intercept_unary_unary(server, details(), b"")
        assert len(server.seen) == 1, ms
    assert clock.sleeps == []


def test_resource_exhausted_without_pushback_and_negative_pushback_are_final() -> None:
    clock = FakeClock()
    client = interceptor(clock)
    for trailing in ((), (("grpc-retry-pushback-ms", "-1"),)):
        server = Server(
            clock,
            Failed(
                grpc.StatusCode.UNAVAILABLE if trailing else grpc.StatusCode.RESOURCE_EXHAUSTED,
                trailing,
            ),
        )
        with pytest.raises(grpc.RpcError):
            client.intercept_unary_unary(server, details(), b"")
        assert len(server.seen) == 1


def test_the_callers_deadline_exceeded_is_not_retried_but_the_attempt_cap_is() -> None:
    clock = FakeClock()
    client = interceptor(clock, timeout=1.0)
    own = Server(clock, Failed(grpc.StatusCode.DEADLINE_EXCEEDED))
    with seawall.deadline(0.5, clock=clock), pytest.raises(grpc.RpcError):
        client.intercept_unary_unary(own, details(), b"")
    assert len(own.seen) == 1
    capped = Server(clock, Failed(grpc.StatusCode.DEADLINE_EXCEEDED))
    with seawall.deadline(10.0, clock=clock):
        client.intercept_unary_unary(capped, details(), b"")
    assert len(capped.seen) == 2


def test_one_breaker_per_target_shared_by_its_methods() -> None:
    clock = FakeClock()
    client = interceptor(clock, attempts=1, min_calls=2)
    server = Server(clock, *[Failed(grpc.StatusCode.UNAVAILABLE)] * 2)
    for method in ("/svc.S/A", "/svc.S/B"):
        with pytest.raises(grpc.RpcError):
            client.intercept_unary_unary(server, details()._replace(method=method), b"")
    with pytest.raises(seawall.CircuitOpen):
        client.intercept_unary_unary(server, details()._replace(method="/svc.S/C"), b"")
    assert client.target.breaker.state == "open"
    assert len(server.seen) == 2


def test_application_errors_do_not_open_the_breaker() -> None:
    clock = FakeClock()
    client = interceptor(clock, attempts=1, min_calls=2)
    server = Server(clock, *[Failed(grpc.StatusCode.NOT_FOUND)] * 5)
    for _ in range(5):
        with pytest.raises(grpc.RpcError):
            client.intercept_unary_unary(server, details(), b"")
    assert client.target.breaker.state == "closed"


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("nan")},
        {"timeout": "1"},
        {"total_timeout": float("inf")},
        {"attempts": 0},
        {"attempts": 50},
        {"max_concurrent": 0},
        {"retry_budget": "lots"},
        {"failure_rate": 2.0},
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.client_interceptors("svc:1", **options)


@pytest.mark.parametrize("target", ["", "   ", None, 5])
def test_bad_target(target: Any) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.client_interceptors(target)


def test_channels_refuse_grpcio_retries() -> None:
    with pytest.raises(seawall.ConfigError, match="enable_retries"):
        seawall.grpc.channel("127.0.0.1:1", options=[("grpc.enable_retries", 1)])
    with pytest.raises(seawall.ConfigError):
        seawall.grpc.channel("127.0.0.1:1", options=["grpc.enable_retries"])  # type: ignore[list-item]


class Sent(NamedTuple):
    request: bytes
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class RawMethod:
    """A grpcio multi-callable stand-in: answers from a script of errors, records calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.seen: list[Sent] = []

    def __call__(
        self,
        request: bytes,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: Any = None,
        wait_for_ready: bool | None = None,
        compression: Any = None,
    ) -> bytes:
        self.seen.append(Sent(request, timeout, metadata, credentials, wait_for_ready, compression))
        if self.errors:
            raise self.errors.pop(0)
        return request

    def with_call(self, request: bytes, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
        return self(request, *args, **kwargs), "the call"


class RawChannel:
    def __init__(self, method: RawMethod) -> None:
        self.method = method

    def unary_unary(self, path: str, *args: Any, **kwargs: Any) -> RawMethod:
        return self.method


def test_the_channel_runs_a_unary_call_through_the_targets_policies() -> None:
    from seawall._durations import RPC_CLIENT
    from seawall.grpc._channel import GuardedChannel

    clock = FakeClock()
    raw = RawMethod(Failed(grpc.StatusCode.UNAVAILABLE))
    target = seawall.grpc.Target("svc:50051", name="direct", clock=clock)
    channel = GuardedChannel(RawChannel(raw), target, RawChannel(raw))  # type: ignore[arg-type]
    call = channel.unary_unary("/svc.Direct/M")
    with seawall.deadline(10.0, clock=clock), seawall.priority("high"):
        answer = call(b"q", metadata=[("other", "v")], compression=grpc.Compression.Gzip)
    assert answer == b"q"
    first, second = raw.seen
    assert [dict(s.metadata)["x-request-attempt"] for s in raw.seen] == ["1", "2"]
    assert dict(first.metadata)["idempotency-key"] == dict(second.metadata)["idempotency-key"]
    assert {dict(s.metadata)["x-request-priority"] for s in raw.seen} == {"high"}
    assert dict(first.metadata)["other"] == "v"
    assert first.timeout == 1.0  # the per-attempt cap
    assert first.compression is grpc.Compression.Gzip
    assert call.with_call(b"w", timeout=0.25) == (b"w", "the call")
    assert raw.seen[-1].timeout == 0.25
    counted = {key[3:]: series.count for key, series in RPC_CLIENT.items() if key[0] == "direct"}
    assert counted == {("M", 14): 1, ("M", 0): 2}


def test_a_call_outside_any_retry_gets_a_fresh_version_4_key() -> None:
    import uuid

    keys = {seawall.idempotency_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        parsed = uuid.UUID(key)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, key)
