"""Timeout and priority headers: round trips, caps, and fuzzed garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import HeaderError
from seawall.wire import (
    budget_from_headers,
    encode_grpc_timeout,
    encode_timeout_ms,
    parse_grpc_timeout,
    parse_priority,
    parse_timeout_ms,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1H", 3600.0),
        ("2M", 120.0),
        ("3S", 3.0),
        ("250m", 0.25),
        ("1500u", 0.0015),
        ("7000000n", 0.007),
        ("99999999S", 99999999.0),
    ],
)
def test_grpc_timeout_every_unit(value: str, seconds: float) -> None:
    assert parse_grpc_timeout(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "S", "100", "1s", "123456789S", "-1S", "1.5S", "1 S x"])
def test_grpc_timeout_malformed(value: str) -> None:
    with pytest.raises(HeaderError, match="grpc-timeout"):
        parse_grpc_timeout(value)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_grpc_encoding_round_trips_without_extending(seconds: float) -> None:
    decoded = parse_grpc_timeout(encode_grpc_timeout(seconds))
    assert decoded <= seconds * (1 + 1e-9) + 1e-12


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_timeout_ms_round_trip_never_extends(seconds: float) -> None:
    assert parse_timeout_ms(encode_timeout_ms(seconds)) <= seconds + 1e-9


def test_budget_from_headers_takes_the_smallest_and_caps_it() -> None:
    headers = {"X-Request-Timeout-Ms": "3000", "grpc-timeout": "2S"}
    assert budget_from_headers(headers) == 2.0
    assert budget_from_headers({"X-Request-Timeout-Ms": "60000"}, maximum=5.0) == 5.0
    assert budget_from_headers({}, maximum=5.0) == 5.0
    assert budget_from_headers({}) is None
    assert budget_from_headers([(b"x-envoy-expected-rq-timeout-ms", b"1200")]) == 1.2


def test_budget_from_asgi_headers_rejects_duplicates() -> None:
    with pytest.raises(HeaderError, match="more than once"):
        budget_from_headers([(b"x-request-timeout-ms", b"1"), (b"x-request-timeout-ms", b"2")])


def test_priorities() -> None:
    assert parse_priority(" HIGH ") == "high"
    with pytest.raises(HeaderError, match="critical, high, normal, low"):
        parse_priority("urgent")


@given(st.text(max_size=40))
def test_fuzzed_timeout_headers_parse_or_raise_header_error(value: str) -> None:
    for name in ("x-request-timeout-ms", "grpc-timeout", "x-envoy-expected-rq-timeout-ms"):
        try:
            budget = budget_from_headers({name: value}, maximum=5.0)
        except HeaderError as exc:
            assert name in str(exc)
        else:
            assert budget is not None
            assert 0.0 <= budget <= 5.0


@given(st.binary(max_size=30))
def test_fuzzed_raw_header_bytes_never_crash(raw: bytes) -> None:
    with contextlib.suppress(HeaderError):
        budget_from_headers([(b"grpc-timeout", raw)])


@given(st.text(max_size=20))
def test_fuzzed_priority(value: str) -> None:
    with contextlib.suppress(HeaderError):
        assert parse_priority(value) in ("critical", "high", "normal", "low")
