"""Who a replay belongs to: the default principal, and what it reads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import ConfigError
from seawall.http import IdempotencyMiddleware
from seawall.http._principal import (
    DEFAULT_SESSION_COOKIES,
    session_cookie_names,
    session_principal,
)


def scope(*headers: tuple[str, str]) -> dict[str, Any]:
    return {"type": "http", "headers": [(k.encode(), v.encode()) for k, v in headers]}


async def app(scope: Any, receive: Any, send: Any) -> None:
    pass


principal = session_principal()


@pytest.mark.parametrize(
    "cookie", ["session", "sessionid", "JSESSIONID", "connect.sid", "_session_id", "PHPSESSID"]
)
def test_each_framework_session_cookie_tells_users_apart(cookie: str) -> None:
    assert cookie in DEFAULT_SESSION_COOKIES
    alice = principal(scope(("cookie", f"{cookie}=alice")))
    bob = principal(scope(("cookie", f"{cookie}=bob")))
    anonymous = principal(scope())
    assert len({alice, bob, anonymous}) == 3


def test_analytics_and_csrf_cookies_do_not_change_the_principal() -> None:
    first = principal(scope(("cookie", "_ga=GA1.1; sessionid=alice; csrftoken=a1")))
    retry = principal(scope(("cookie", "csrftoken=b2; sessionid=alice; _ga=GA1.2; _gid=7")))
    assert first == retry


def test_cookie_order_and_header_split_do_not_change_the_principal() -> None:
    one = principal(scope(("cookie", "sessionid=alice; JSESSIONID=j1")))
    other = principal(scope(("cookie", "JSESSIONID=j1"), ("cookie", "sessionid=alice")))
    assert one == other


def test_authorization_and_cookies_both_count() -> None:
    token = principal(scope(("authorization", "Bearer t1")))
    both = principal(scope(("authorization", "Bearer t1"), ("cookie", "session=s1")))
    assert len({token, both, principal(scope(("cookie", "session=s1")))}) == 3
    # A name=value cookie pair cannot be confused with an Authorization header.
    assert principal(scope(("authorization", "session=s1"))) != principal(
        scope(("cookie", "session=s1"))
    )


def test_only_the_named_cookies_count_with_session_cookies() -> None:
    custom = session_principal(("_shop_session",))
    assert custom(scope(("cookie", "_shop_session=a"))) != custom(
        scope(("cookie", "_shop_session=b"))
    )
    assert custom(scope(("cookie", "sessionid=a"))) == custom(scope(("cookie", "sessionid=b")))
    assert session_principal(())(scope(("cookie", "session=a"))) == principal(scope())


@given(st.text(max_size=200))
def test_any_cookie_header_gives_a_principal(header: str) -> None:
    raw = header.encode("utf-8", "surrogatepass")
    value = principal({"type": "http", "headers": [(b"cookie", raw)]})
    assert isinstance(value, str)
    assert len(value) == 64


@pytest.mark.parametrize(
    "names", ["session", b"session", 42, ("ok", ""), ("has space",), ("a;b",), (None,)]
)
def test_bad_session_cookies_are_refused(names: Any) -> None:
    with pytest.raises(ConfigError, match="session_cookies"):
        session_cookie_names(names)
    with pytest.raises(ConfigError, match="session_cookies"):
        IdempotencyMiddleware(app, session_cookies=names)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("ttl", float("inf")),
        ("ttl", float("nan")),
        ("ttl", -1),
        ("ttl", 0),
        ("ttl", True),
        ("ttl", "60"),
        ("lock_ttl", float("nan")),
        ("lock_ttl", "5"),
        ("max_body", -1),
        ("max_body", 1.5),
        ("principal", "user"),
        ("store", object()),
        ("methods", "POST"),
        ("require", "/charges"),
    ],
)
def test_bad_middleware_arguments_name_themselves(argument: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=argument):
        IdempotencyMiddleware(app, **{argument: value})
