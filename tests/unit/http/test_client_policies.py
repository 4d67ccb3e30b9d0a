"""A client's per-host policies are public, named by the client and labelled by target."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import seawall
from seawall import _durations
from seawall.http import AsyncClient, Client, ClientPolicies
from seawall.testing import FakeClock


def _flaky(failures: int) -> httpx.MockTransport:
    left = [failures]

    def handle(request: httpx.Request) -> httpx.Response:
        if left[0]:
            left[0] -= 1
            if left[0] == 0:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(503)
        return httpx.Response(200)

    return httpx.MockTransport(handle)


def test_policies_of_a_host_are_reachable_and_named_by_the_client() -> None:
    client = Client(transport=_flaky(0), name="cp-payments", clock=FakeClock())
    assert client.get("http://pay.example:8080/x").status_code == 200
    policies = client.policies("http://pay.example:8080/anything")
    assert isinstance(policies, ClientPolicies)
    assert (policies.name, policies.target) == ("cp-payments", "pay.example:8080")
    assert policies.breaker.state == "closed"
    assert policies.breaker is client.policies(httpx.URL("http://pay.example:8080")).breaker
    taken = seawall.snapshot(policies.pipeline)
    retry = taken.find("retry", "cp-payments", "pay.example:8080")
    assert retry is not None
    assert retry["calls"]["success_first_try"] == 1
    assert seawall.snapshot().find("circuit_breaker", "cp-payments", "pay.example:8080")


def test_every_attempt_is_timed_with_its_status_or_none_for_a_network_error() -> None:
    _durations.CLIENT.clear()
    client = Client(
        transport=_flaky(2),
        name="cp-attempts",
        backoff=seawall.Backoff.constant(0.0),
        clock=FakeClock(),
    )
    assert client.get("http://a.example/x").status_code == 200
    rows = {
        (r["name"], r["target"], r["method"], r["status"]): r["count"]
        for r in _durations.CLIENT.rows()
    }
    assert rows == {
        ("cp-attempts", "a.example:80", "GET", 503): 1,
        ("cp-attempts", "a.example:80", "GET", None): 1,
        ("cp-attempts", "a.example:80", "GET", 200): 1,
    }


def test_the_async_client_shows_its_policies_too() -> None:
    async def run() -> ClientPolicies:
        async with AsyncClient(transport=_flaky(0), name="cp-async", clock=FakeClock()) as c:
            await c.get("https://b.example/x")
            return c.policies("https://b.example/")

    policies = asyncio.run(run())
    assert policies.target == "b.example:443"


def test_a_bad_client_name_is_a_config_error() -> None:
    with pytest.raises(seawall.ConfigError, match="name"):
        Client(name=3)
