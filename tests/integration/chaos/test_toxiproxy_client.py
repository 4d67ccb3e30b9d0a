"""An existing Toxiproxy client library drives seawall's proxy unchanged.

The client is ``toxiproxy-python`` (PyPI), written against Toxiproxy's REST API; it talks
to the control API with ``requests`` and knows nothing about seawall.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from seawall.chaos import ProxyServer
from tests.integration.chaos.conftest import connect, echo, median_ms, round_trips
from tests.integration.conftest import need

Start = Callable[..., Any]


@pytest.fixture
def toxiproxy(upstream: Start) -> Iterator[tuple[Any, str]]:
    try:
        from toxiproxy import Toxiproxy
        from toxiproxy.api import APIConsumer
    except ImportError:
        need(False, "toxiproxy-python is not installed (pip install toxiproxy-python)")
    server = upstream(echo)
    with ProxyServer(port=0, rng=random.Random(0)) as proxy_server:
        host, port = proxy_server.address
        saved = APIConsumer.host, APIConsumer.port
        client = Toxiproxy()
        client.update_api_consumer(host, port)  # the client keeps its address class-wide
        try:
            yield client, server.address
        finally:
            APIConsumer.host, APIConsumer.port = saved


def test_toxiproxy_python_client_drives_the_proxy(toxiproxy: tuple[Any, str]) -> None:
    from toxiproxy.exceptions import NotFound, ProxyExists

    client, up = toxiproxy
    assert client.running()
    assert client.version()

    proxy = client.create(upstream=up, name="echo", listen="127.0.0.1:0")
    assert proxy.name == "echo"
    assert proxy.upstream == up
    assert proxy.enabled
    listen = client.get_proxy("echo").listen
    with connect(listen) as sock:
        base = median_ms(round_trips(sock, 5))

    with pytest.raises(ProxyExists):
        client.create(upstream=up, name="echo")

    proxy.add_toxic(type="latency", attributes={"latency": 80, "jitter": 0})
    toxics = proxy.toxics()
    assert list(toxics) == ["latency_downstream"]
    assert toxics["latency_downstream"].attributes == {"latency": 80, "jitter": 0}
    with connect(listen) as sock:
        assert median_ms(round_trips(sock, 3)) - base >= 79

    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}
    assert proxy.get_toxic("latency_downstream") is None

    with proxy.down():
        with pytest.raises(ConnectionRefusedError):
            connect(listen)
    with connect(listen) as sock:
        round_trips(sock, 1)

    proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
    assert client.reset()
    assert client.get_proxy("echo") is not None
    assert proxy.toxics() == {}

    populated = client.populate([{"name": "other", "upstream": up, "listen": "127.0.0.1:0"}])
    assert [p.name for p in populated] == ["other"]
    assert set(client.proxies()) == {"echo", "other"}

    client.destroy_all()
    assert client.proxies() == {}
    with pytest.raises(NotFound):
        proxy.destroy()
