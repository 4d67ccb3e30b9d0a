"""The control API's request-head parser: a Request or an HTTPError, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.chaos._control import HTTPError, parse_head


def test_parses_origin_and_absolute_targets() -> None:
    request = parse_head(
        b"POST /proxies/a%2Fb?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
    )
    assert request.method == "POST"
    assert request.path == "/proxies/a%2Fb"
    assert request.headers["content-length"] == "2"
    assert request.keep_alive
    absolute = parse_head(b"GET http://h:8474/version HTTP/1.0\r\n\r\n")
    assert absolute.path == "/version"
    assert not absolute.keep_alive
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive
    assert not parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive


@pytest.mark.parametrize(
    "head",
    [
        b"GET /\r\n\r\n",
        b"GET / HTTP/3\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_heads_are_400(head: bytes) -> None:
    with pytest.raises(HTTPError) as info:
        parse_head(head)
    assert info.value.status == 400


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_fail_cleanly(head: bytes) -> None:
    try:
        parse_head(head + b"\r\n\r\n")
    except HTTPError as exc:
        assert exc.status == 400
