"""The ``fault_proxy`` pytest fixture (from seawall's pytest plugin) as a user sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.chaos.conftest import connect, echo, round_trips


def test_fault_proxy_fixture_starts_and_stops_proxies(
    upstream: Callable[..., Any], fault_proxy: Callable[..., Any]
) -> None:
    server = upstream(echo)
    first = fault_proxy(server.address)
    second = fault_proxy(server.address, name="second")
    assert first.port != second.port
    with first.toxic("latency", latency=30):
        with connect(first.listen) as sock:
            assert min(round_trips(sock, 2)) >= 0.029
    with connect(second.listen) as sock:
        round_trips(sock, 2)
