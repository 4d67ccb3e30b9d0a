"""``protect()`` checks every argument when it is called, naming the bad one."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import ConfigError
from seawall.http import Health, protect
from seawall.stores import MemoryStore


async def app(scope: Any, receive: Any, send: Any) -> None:
    pass


class WSGIApp:
    """What a Flask or Django app looks like from outside."""

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


def wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


@pytest.mark.parametrize("value", [42, None, "module:app", b"app"])
def test_an_app_that_is_not_callable_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="app must be an ASGI app"):
        protect(value)


@pytest.mark.parametrize("value", [WSGIApp(), wsgi_function])
def test_a_wsgi_app_is_refused_with_the_adapter_to_use(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"is a WSGI app.*WSGIMiddleware"):
        protect(value)


def test_a_class_is_refused() -> None:
    with pytest.raises(ConfigError, match="class WSGIApp"):
        protect(WSGIApp)


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, -1, 0, True, False, "5", None, [5]]
)
def test_a_bad_maximum_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="maximum"):
        protect(app, maximum=value)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("ttl", math.inf),
        ("ttl", "86400"),
        ("lock_ttl", math.nan),
        ("lock_ttl", -1),
        ("shedder", "yes"),
        ("shedder", 1),
        ("default_priority", "urgent"),
        ("default_priority", 3),
        ("routes", {"/admin": "urgent"}),
        ("routes", 42),
        ("idempotency", "sqlite"),
        ("idempotency", 1),
        ("require_idempotency", "/charges"),
        ("principal", "user-id"),
        ("session_cookies", "session"),
        ("health", True),
        ("clock", 5),
    ],
)
def test_every_bad_argument_names_itself(argument: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=argument):
        protect(app, **{argument: value})


def test_principal_without_idempotency_is_refused() -> None:
    with pytest.raises(ConfigError, match="principal"):
        protect(app, idempotency=False, principal=lambda scope: "x")


def test_good_arguments_are_accepted() -> None:
    protected = protect(
        app,
        maximum=2,
        idempotency=MemoryStore(),
        principal=lambda scope: "tenant",
        session_cookies=("_shop_session",),
        ttl=3600,
        lock_ttl=30.0,
        health=Health(),
        routes={"/admin": "low"},
        default_priority="HIGH",
    )
    assert protected.maximum == 2.0


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**20), max_value=10**20),
        st.text(max_size=8),
        st.booleans(),
    )
)
def test_maximum_either_works_or_is_refused_at_construction(value: Any) -> None:
    try:
        protected = protect(app, maximum=value, idempotency=False, shedder=False)
    except ConfigError as exc:
        assert "maximum" in str(exc)
        return
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    assert 0 < protected.maximum < math.inf  # type: ignore[operator]
