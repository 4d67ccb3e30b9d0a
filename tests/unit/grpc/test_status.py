"""The gRPC status table: what is retried, what counts against the breaker, pushback."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.grpc import breaker_failure, parse_pushback, retryable
from seawall.grpc._status import STOP, remember


class Failed(grpc.RpcError):
    """A finished call's error, as grpcio raises it: ``code()`` and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, trailing: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(code.name)
        self._code = code
        self._trailing = trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailing


def judged(code: grpc.StatusCode, pushback: str | None = None, *, own: bool = False) -> Failed:
    trailing = () if pushback is None else (("grpc-retry-pushback-ms", pushback),)
    exc = Failed(code, trailing)
    remember(exc, parse_pushback(trailing), own)
    return exc


def test_pushback_values() -> None:
    assert parse_pushback(None) is None
    assert parse_pushback([("other", "1")]) is None
    assert parse_pushback([("grpc-retry-pushback-ms", "300")]) == 0.3
    assert parse_pushback([("Grpc-Retry-Pushback-Ms", b"0")]) == 0.0
    assert parse_pushback([("grpc-retry-pushback-ms", "-1")]) == STOP
    assert parse_pushback([("grpc-retry-pushback-ms", "soon")]) == STOP
    assert parse_pushback([("grpc-retry-pushback-ms", "1.5")]) == STOP
    # gRFC A6: a signed 32-bit integer; past it the value cannot be parsed, so: stop.
    assert parse_pushback([("grpc-retry-pushback-ms", "2147483647")]) == 2147483.647
    assert parse_pushback([("grpc-retry-pushback-ms", "2147483648")]) == STOP
    assert parse_pushback([("grpc-retry-pushback-ms", "9" * 5000)]) == STOP


@given(st.lists(st.tuples(st.sampled_from(["grpc-retry-pushback-ms", "x"]), st.text())))
def test_any_pushback_metadata_parses_to_a_verdict(metadata: list[tuple[str, str]]) -> None:
    value = parse_pushback(metadata)
    assert value is None or value == STOP or value >= 0.0


def test_unavailable_is_retried_unless_pushback_forbids_it() -> None:
    assert retryable(judged(grpc.StatusCode.UNAVAILABLE))
    assert retryable(judged(grpc.StatusCode.UNAVAILABLE, "10"))
    assert not retryable(judged(grpc.StatusCode.UNAVAILABLE, "-1"))
    assert not retryable(judged(grpc.StatusCode.UNAVAILABLE, "bogus"))


def test_resource_exhausted_is_retried_only_with_pushback() -> None:
    assert not retryable(judged(grpc.StatusCode.RESOURCE_EXHAUSTED))
    assert retryable(judged(grpc.StatusCode.RESOURCE_EXHAUSTED, "250"))
    assert judged(grpc.StatusCode.RESOURCE_EXHAUSTED, "250").retry_pushback == 0.25  # type: ignore[attr-defined]
    assert not retryable(judged(grpc.StatusCode.RESOURCE_EXHAUSTED, "-5"))


def test_deadline_exceeded_is_retried_only_when_the_attempt_cap_fired() -> None:
    assert retryable(judged(grpc.StatusCode.DEADLINE_EXCEEDED, own=False))
    assert not retryable(judged(grpc.StatusCode.DEADLINE_EXCEEDED, own=True))
    # an error the client never judged is taken as the caller's deadline
    assert not retryable(Failed(grpc.StatusCode.DEADLINE_EXCEEDED))


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    ],
)
def test_other_codes_are_not_retried(code: grpc.StatusCode) -> None:
    assert not retryable(judged(code, "10"))


def test_breaker_counts_only_what_says_the_server_is_sick() -> None:
    assert breaker_failure(Failed(grpc.StatusCode.UNAVAILABLE))
    assert breaker_failure(Failed(grpc.StatusCode.DEADLINE_EXCEEDED))
    assert breaker_failure(Failed(grpc.StatusCode.INTERNAL))
    assert not breaker_failure(Failed(grpc.StatusCode.NOT_FOUND))
    assert not breaker_failure(Failed(grpc.StatusCode.RESOURCE_EXHAUSTED))
    assert breaker_failure(ConnectionError())


def test_non_rpc_errors() -> None:
    assert retryable(ConnectionResetError())
    assert not retryable(ValueError())
