"""The seawall httpx client's options: standard()'s defaults, checked at construction.

The downstream here is an httpx transport on a FakeClock: a hanging one waits out each
attempt's read timeout in virtual time, so the 10 s total is asserted exactly without
sleeping. tests/integration/test_http_client.py runs the same bound on a real hanging
socket.
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seawall
import seawall.aiohttp
import seawall.requests
from seawall.http import AsyncClient, Client
from seawall.testing import FakeClock

URL = "http://downstream.test/"


class Hanging(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A downstream that never answers: every attempt times out after its read timeout."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.timeouts: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions["timeout"]["read"]
        self.timeouts.append(timeout)
        self.clock.advance(timeout)
        raise httpx.ReadTimeout("timed out", request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


class Answering(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A downstream that answers 200 at once and keeps what each request carried."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, request=request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


def _assert_within_the_total(clock: FakeClock, hanging: Hanging) -> None:
    # 5 s, a ~1 s backoff, then what the 10 s total leaves minus the 10 % reserve; the
    # next ~2 s backoff would end past the total, so the retries stop there.
    assert hanging.timeouts[0] == 5.0
    assert len(hanging.timeouts) == 2
    assert hanging.timeouts[1] == pytest.approx(0.9 * (10.0 - 5.0 - clock.sleeps[0]))
    assert clock.now() <= 10.0


def test_the_default_client_gives_up_within_10_s_in_all() -> None:
    clock = FakeClock()
    hanging = Hanging(clock)
    client = Client(transport=hanging, clock=clock, rng=random.Random(0))
    with client, pytest.raises(httpx.ReadTimeout) as info:
        client.get(URL)
    _assert_within_the_total(clock, hanging)
    assert "past the deadline" in " ".join(info.value.__notes__)


def test_the_default_async_client_gives_up_within_10_s_in_all() -> None:
    clock = FakeClock()
    hanging = Hanging(clock)

    async def main() -> None:
        client = AsyncClient(transport=hanging, clock=clock, rng=random.Random(0))
        async with client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(URL)

    asyncio.run(main())
    _assert_within_the_total(clock, hanging)


def test_a_callers_shorter_deadline_still_wins() -> None:
    clock = FakeClock()
    hanging = Hanging(clock)
    client = Client(transport=hanging, clock=clock, rng=random.Random(0))
    with client, seawall.deadline(2.0, clock=clock), pytest.raises(httpx.ReadTimeout):
        client.get(URL)
    assert hanging.timeouts == [pytest.approx(1.8)]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"total_timeout": -1}, "total_timeout"),
        ({"total_timeout": 0.05}, "total_timeout"),  # all of it the caller's reserve
        ({"attempts": 0}, "attempts"),
        ({"attempts": 11}, "attempts"),
        ({"breaker": {"bogus": 1}}, "bogus"),
        ({"breaker": {"failure_rate": 2.0}}, "failure_rate"),
        ({"breaker": "fast"}, "breaker"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_queue": -1}, "max_queue"),
        ({"retry_budget": -0.5}, "retry_budget"),
        ({"backoff": 1.0}, "backoff"),
        ({"max_hosts": 0}, "max_hosts"),
        ({"raise_for_status": "yes"}, "raise_for_status"),
    ],
)
@pytest.mark.parametrize(
    "make",
    [
        Client,
        AsyncClient,
        seawall.requests.Adapter,
        seawall.requests.Session,
        seawall.aiohttp.Middleware,
    ],
)
def test_bad_options_are_refused_at_construction(
    make: Any, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(seawall.ConfigError, match=named):
        make(**options)


def test_inf_means_no_timeout() -> None:
    answering = Answering()
    with Client(transport=answering, timeout=math.inf, total_timeout=math.inf) as client:
        assert client.get(URL).status_code == 200
    request = answering.requests[0]
    assert set(request.extensions["timeout"].values()) == {None}
    assert "x-request-timeout-ms" not in request.headers


def test_a_cap_beyond_the_total_is_refused_as_standard_refuses_it() -> None:
    # An infinite cap is no cap (the total alone bounds each attempt); a finite one above
    # the total could never be used, so it is refused as standard() refuses it.
    with pytest.raises(seawall.ConfigError, match="total_timeout"):
        Client(timeout=30.0)


def test_a_total_below_the_cap_shrinks_the_attempt_to_fit() -> None:
    answering = Answering()
    with Client(transport=answering, total_timeout=2.0, clock=FakeClock()) as client:
        client.get(URL)
    assert answering.requests[0].extensions["timeout"]["read"] == pytest.approx(1.8)


def test_a_cap_above_httpx_default_is_not_cut_to_5_s() -> None:
    answering = Answering()
    with Client(transport=answering, timeout=30.0, total_timeout=60.0) as client:
        client.get(URL)
    assert answering.requests[0].extensions["timeout"]["read"] == 30.0
    assert answering.requests[0].headers["x-request-timeout-ms"] == "30000"


def test_breaker_options_beyond_standard_build_the_hosts_breaker() -> None:
    options = {"window_type": "count", "window": 5, "min_calls": 5}
    with Client(transport=Answering(), breaker=options) as client:
        breaker = client._transport.breaker_for(URL)  # type: ignore[attr-defined]
    assert (breaker.window_type, breaker.window, breaker.min_calls) == ("count", 5, 5)


def test_each_host_gets_standards_policies_of_its_own() -> None:
    with Client(transport=Answering(), breaker={"cooldown": 5.0}) as client:
        one = client._transport.breaker_for("http://one.test")  # type: ignore[attr-defined]
        two = client._transport.breaker_for("http://two.test")  # type: ignore[attr-defined]
    assert one is not two
    assert (one.cooldown, one.failure_rate, one.min_calls) == (5.0, 0.5, 20)


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.text(max_size=6),
    st.sampled_from(["5", "1e3", "inf", "nan", "-1", ""]),
)
OPTIONS = [
    "timeout",
    "total_timeout",
    "attempts",
    "retry_budget",
    "max_concurrent",
    "max_queue",
    "max_hosts",
    "breaker.failure_rate",
    "breaker.window",
    "breaker.min_calls",
    "breaker.cooldown",
    "breaker.half_open_calls",
    "breaker.slow_call_duration",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(option=st.sampled_from(OPTIONS), value=NUMBERS)
def test_any_value_works_or_is_refused_at_construction(option: str, value: object) -> None:
    """Each value is refused with ConfigError when the client is made, or a request works.

    Never a ConfigError, TypeError, OverflowError or "no time left" on the first request.
    """
    name, _, sub = option.partition(".")
    options: dict[str, Any] = {name: {sub: value}} if sub else {name: value}
    answering = Answering()
    try:
        client = Client(transport=answering, clock=FakeClock(), **options)
    except seawall.ConfigError:
        return
    with client:
        assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    "make", [seawall.requests.Adapter, seawall.requests.Session, seawall.aiohttp.Middleware]
)
def test_the_other_clients_refuse_unknown_options(make: Any) -> None:
    with pytest.raises(TypeError, match="retries"):
        make(retries=3)


def test_aiohttp_without_client_middlewares_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seawall.aiohttp.aiohttp, "__version__", "3.11.18")
    with pytest.raises(seawall.ConfigError, match=r"aiohttp >= 3\.12"):
        seawall.aiohttp.Middleware()


@pytest.mark.parametrize(
    ("given", "budget", "sent"),
    [
        (None, 2.0, (2.0, 2.0)),
        (30, 2.0, (2.0, 2.0)),
        ((0.5, 10.0), 2.0, (0.5, 2.0)),
        ((None, 1.0), 2.0, (2.0, 1.0)),
        ((0.5, 10.0), None, (0.5, 10.0)),
        (None, None, None),
    ],
)
def test_requests_gets_the_callers_timeout_within_the_budget(
    given: Any, budget: float | None, sent: Any
) -> None:
    from seawall.requests import _bounded

    assert _bounded(given, budget) == sent
