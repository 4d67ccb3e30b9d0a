"""The control API over real HTTP: Toxiproxy's routes, JSON shapes and status codes."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from seawall.chaos import ProxyConfig, ProxyServer, Toxic
from tests.integration.chaos.conftest import connect, echo, median_ms, round_trips

Start = Callable[..., Any]


@pytest.fixture
def api(upstream: Start) -> Iterator[tuple[httpx.Client, str]]:
    server = upstream(echo)
    # Strict: these tests pin validation, which lenient mode relaxes for unknown fields.
    with ProxyServer(port=0, rng=random.Random(0), strict=True) as proxy_server:
        with httpx.Client(base_url=proxy_server.url, timeout=10) as client:
            yield client, server.address


def test_proxy_lifecycle(api: tuple[httpx.Client, str]) -> None:
    client, up = api
    r = client.post("/proxies", json={"name": "echo", "listen": "127.0.0.1:0", "upstream": up})
    assert r.status_code == 201
    proxy = r.json()
    assert proxy["name"] == "echo"
    assert proxy["upstream"] == up
    assert proxy["enabled"] is True
    assert proxy["toxics"] == []
    assert proxy["listen"] != "127.0.0.1:0"
    assert client.get("/proxies").json() == {"echo": proxy}
    assert client.get("/proxies/echo").json() == proxy

    r = client.post("/proxies", json={"name": "echo", "upstream": up})
    assert r.status_code == 409
    assert "already exists" in r.json()["error"]

    r = client.post("/proxies/echo", json={"enabled": False})
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])
    r = client.patch("/proxies/echo", json={"enabled": True})
    assert r.json()["enabled"] is True
    with connect(proxy["listen"]) as sock:
        round_trips(sock, 1)

    assert client.delete("/proxies/echo").status_code == 204
    assert client.get("/proxies/echo").status_code == 404
    assert client.delete("/proxies/echo").status_code == 404
    assert client.get("/proxies").json() == {}


def test_toxic_lifecycle(api: tuple[httpx.Client, str]) -> None:
    client, up = api
    listen = client.post("/proxies", json={"name": "p", "upstream": up}).json()["listen"]
    r = client.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 60}})
    assert r.status_code == 200
    assert r.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 60, "jitter": 0},
    }
    with connect(listen) as sock:
        assert median_ms(round_trips(sock, 3)) >= 59
    r = client.post("/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 1}})
    assert r.status_code == 409
    r = client.post("/proxies/p/toxics/latency_downstream", json={"attributes": {"jitter": 5}})
    assert r.json()["attributes"] == {"latency": 60, "jitter": 5}
    assert client.get("/proxies/p/toxics/latency_downstream").json()["attributes"]["jitter"] == 5
    assert [t["name"] for t in client.get("/proxies/p/toxics").json()] == ["latency_downstream"]
    assert client.get("/proxies/p").json()["toxics"][0]["name"] == "latency_downstream"
    assert client.delete("/proxies/p/toxics/latency_downstream").status_code == 204
    assert client.delete("/proxies/p/toxics/latency_downstream").status_code == 404
    assert client.get("/proxies/p/toxics/nope").status_code == 404
    assert client.post("/proxies/nope/toxics", json={"type": "latency"}).status_code == 404
    with connect(listen) as sock:
        assert median_ms(round_trips(sock, 3)) < 30


def test_populate_reset_and_version(api: tuple[httpx.Client, str]) -> None:
    client, up = api
    body = [
        {"name": "a", "listen": "127.0.0.1:0", "upstream": up},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": up, "enabled": False},
    ]
    r = client.post("/populate", json=body)
    assert r.status_code == 201
    assert [p["name"] for p in r.json()["proxies"]] == ["a", "b"]
    a_listen = r.json()["proxies"][0]["listen"]
    # Same listen and upstream: kept as it is.
    r = client.post("/populate", json=[{"name": "a", "listen": a_listen, "upstream": up}])
    assert r.json()["proxies"][0]["listen"] == a_listen
    client.post("/proxies/a/toxics", json={"type": "timeout", "attributes": {"timeout": 0}})
    assert client.post("/reset").status_code == 204
    proxies = client.get("/proxies").json()
    assert all(p["enabled"] and p["toxics"] == [] for p in proxies.values())
    version = client.get("/version")
    assert version.status_code == 200
    assert version.json()["version"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "names"),
    [
        ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "name"),
        ("POST", "/proxies", {"name": "x"}, 400, "upstream"),
        ("POST", "/proxies", {"name": "x", "upstream": "nope"}, 400, "upstream"),
        ("POST", "/proxies", {"name": "x", "upstream": "h:1", "enabled": "yes"}, 400, "enabled"),
        ("POST", "/proxies", {"name": "x", "upstream": "h:1", "colour": 1}, 400, "colour"),
        (
            "POST",
            "/proxies",
            {"name": "x", "upstream": "h:1", "listen": "1.2.3.4.5:0"},
            500,  # cannot be bound: Toxiproxy's status
            "listen tcp 1.2.3.4.5:0",
        ),
        ("POST", "/proxies", [1, 2], 400, "JSON object"),
        (
            "POST",
            "/populate",
            [{"name": "x", "upstream": "h:1"}, {"name": "y"}],
            400,
            "missing required field: upstream at proxy 2",  # counted from 1
        ),
        ("POST", "/populate", {"name": "x"}, 400, "list of proxies"),
        ("GET", "/nope", None, 404, "not found"),
        ("PUT", "/proxies", None, 405, "not allowed"),
        ("DELETE", "/version", None, 405, "not allowed"),
    ],
)
def test_bad_requests_name_the_problem(
    api: tuple[httpx.Client, str], method: str, path: str, body: Any, status: int, names: str
) -> None:
    client, _ = api
    r = client.request(method, path, json=body)
    assert r.status_code == status
    assert r.json()["status"] == status
    assert names in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"type": "nope"}, "type"),
        ({"type": "latency", "stream": "sideways"}, "stream"),
        ({"type": "latency", "toxicity": 1.5}, "toxicity"),
        ({"type": "latency", "toxicity": True}, "toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, "attributes.latency"),
        ({"type": "latency", "attributes": {"latency": 1.5}}, "attributes.latency"),
        ({"type": "latency", "attributes": {"rate": 1}}, "attributes.rate"),
        ({"type": "slicer", "attributes": {"average_size": 0}}, "attributes.average_size"),
        ({"type": "latency", "name": "a/b"}, "name"),
        ({"stream": "upstream"}, "type"),
    ],
)
def test_bad_toxics_name_the_field(api: tuple[httpx.Client, str], body: Any, names: str) -> None:
    client, up = api
    client.post("/proxies", json={"name": "p", "upstream": up})
    r = client.post("/proxies/p/toxics", json=body)
    assert r.status_code == 400
    assert r.json()["error"].startswith(names)


def test_invalid_json_and_empty_bodies_are_400(api: tuple[httpx.Client, str]) -> None:
    client, _ = api
    for content in [b"", b"{", b"NaN", b'{"name": Infinity}', b"\xff\xfe", b"[" * 100_000]:
        r = client.post("/proxies", content=content)
        assert r.status_code == 400, content[:10]


def test_browsers_are_refused(api: tuple[httpx.Client, str]) -> None:
    client, _ = api
    r = client.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert r.status_code == 403


def test_raw_http_edge_cases(api: tuple[httpx.Client, str]) -> None:
    client, _ = api
    host, port = client.base_url.host, client.base_url.port
    assert port is not None

    def exchange(raw: bytes) -> bytes:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(raw)
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
            return b"".join(chunks)

    chunked = (
        b"POST /proxies HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'5\r\n{"nam\r\n0\r\n\r\n'
    )
    assert exchange(chunked).startswith(b"HTTP/1.1 400")
    assert exchange(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert exchange(b"GET /version HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 400")
    too_big = b"POST /proxies HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"
    assert exchange(too_big).startswith(b"HTTP/1.1 413")
    assert exchange(b"GET /version HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
    # Keep-alive: two requests on one connection.
    two = b"GET /version HTTP/1.1\r\n\r\nGET /proxies HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert exchange(two).count(b"HTTP/1.1 200") == 2


def test_server_started_with_proxies_and_seeded(upstream: Start) -> None:
    up = upstream(echo).address
    config = ProxyConfig(
        name="svc", upstream=up, toxics=(Toxic("latency", attributes={"latency": 40}),)
    )
    with ProxyServer(port=0, proxies=[config]) as server:
        listen = server.proxies()["svc"]["listen"]
        with connect(listen) as sock:
            assert median_ms(round_trips(sock, 3)) >= 39
        assert server.populate([ProxyConfig(name="other", upstream=up)])[0]["name"] == "other"
        assert set(server.proxies()) == {"svc", "other"}
    with pytest.raises(ConnectionRefusedError):
        connect(listen)


def test_control_api_port_in_use_is_an_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError), ProxyServer(port=port):
            pass


def test_stopping_with_open_connections_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    with ProxyServer(port=0) as proxy_server:
        host, port = proxy_server.address
        idle = socket.create_connection((host, port), timeout=5)  # open, no request yet
        with httpx.Client(base_url=proxy_server.url) as client:
            assert client.get("/version").status_code == 200  # a keep-alive connection
    idle.close()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [], [r.getMessage() for r in errors]
