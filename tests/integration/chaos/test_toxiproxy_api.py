"""Toxiproxy's own API tests (``api_test.go``), rewritten black-box against ``seawall proxy``.

Each test makes the requests its Go namesake makes, through :class:`GoClient` (the Go
client's requests and error strings), ``toxiproxy-python`` or raw HTTP, against one real
``seawall proxy`` process for the session; every proxy is deleted after each test, as
Toxiproxy's ``WithServer`` clears its collection. Where seawall deliberately differs,
the test pins seawall's answer and docs/chaos.md says why.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.chaos.conftest import SeawallProxy, free_port
from tests.integration.chaos.go_client import GoClient, ToxiproxyError, proxy_up, toxic_named
from tests.integration.conftest import need

UPSTREAM = "localhost:20001"  # never dialled: these tests only drive the API


@pytest.fixture
def client(seawall_proxy: SeawallProxy) -> Iterator[GoClient]:
    go = GoClient(seawall_proxy.url)
    try:
        yield go
    finally:
        go.clear()
        go.close()


@pytest.fixture
def python_client(seawall_proxy: SeawallProxy, client: GoClient) -> Iterator[Any]:
    """toxiproxy-python pointed at the session's ``seawall proxy``."""
    try:
        from toxiproxy import Toxiproxy
        from toxiproxy.api import APIConsumer
    except ImportError:
        need(False, "toxiproxy-python is not installed (pip install toxiproxy-python)")
    host, port = seawall_proxy.url.removeprefix("http://").rsplit(":", 1)
    saved = APIConsumer.host, APIConsumer.port
    APIConsumer.host, APIConsumer.port = host, int(port)  # the client keeps it class-wide
    try:
        yield Toxiproxy()
    finally:
        APIConsumer.host, APIConsumer.port = saved


def _localhost() -> tuple[str, str]:
    """A free port as Toxiproxy's tests name it (``localhost:P``) and as it is bound."""
    port = free_port()
    return f"localhost:{port}", f"127.0.0.1:{port}"


def _error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ToxiproxyError) as raised:
        call(*args, **kwargs)
    return str(raised.value)


# -- the HTTP layer --------------------------------------------------------------------


def test_request_id(seawall_proxy: SeawallProxy) -> None:
    r = httpx.get(f"{seawall_proxy.url}/version", headers={"User-Agent": "curl"})
    assert r.headers["X-Toxiproxy-Request-Id"]
    again = httpx.get(f"{seawall_proxy.url}/version", headers={"User-Agent": "curl"})
    assert again.headers["X-Toxiproxy-Request-Id"] != r.headers["X-Toxiproxy-Request-Id"]


def test_browser_gets_403(seawall_proxy: SeawallProxy) -> None:
    agent = "Mozilla/5.0 (Linux; Android 4.4.2); Nexus 5 Build/KOT49H) AppleWebKit/537.36"
    r = httpx.get(f"{seawall_proxy.url}/proxies", headers={"User-Agent": agent})
    assert r.status_code == 403


def test_non_browser_gets_200(seawall_proxy: SeawallProxy) -> None:
    r = httpx.get(f"{seawall_proxy.url}/proxies", headers={"User-Agent": "Wget/2.1"})
    assert r.status_code == 200


def test_version_endpoint_returns_version(seawall_proxy: SeawallProxy, python_client: Any) -> None:
    r = httpx.get(f"{seawall_proxy.url}/version")
    # Toxiproxy's shape and content type; the version is the Toxiproxy API level served
    # (Toxiproxy's own test expects the "git" of a development build).
    assert re.fullmatch(rb'\{"version": "2\.\d+\.\d+"\}\n', r.content), r.content
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Server"].startswith("seawall/")
    assert python_client.version() == r.content


# -- proxies ---------------------------------------------------------------------------


def test_index_with_no_proxies(python_client: Any) -> None:
    assert python_client.proxies() == {}


def test_create_proxy_blank_name(client: GoClient) -> None:
    error = _error(client.create_proxy, "", "", "")
    assert error == "Create: HTTP 400: missing required field: name"


def test_create_proxy_blank_upstream(client: GoClient) -> None:
    error = _error(client.create_proxy, "test", "", "")
    assert error == "Create: HTTP 400: missing required field: upstream"


def test_listing_proxies(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    proxy = client.proxies()["mysql_master"]
    assert (proxy["name"], proxy["listen"], proxy["upstream"]) == ("mysql_master", bound, UPSTREAM)
    assert toxic_named(proxy["toxics"], "latency") is None


def test_create_and_get_proxy(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    proxy = client.proxy("mysql_master")
    assert (proxy["listen"], proxy["upstream"], proxy["enabled"]) == (bound, UPSTREAM, True)
    assert proxy["toxics"] == []


def test_create_proxy_with_save(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM, enabled=True)
    proxy = client.proxy("mysql_master")
    assert (proxy["listen"], proxy["enabled"]) == (bound, True)
    assert proxy_up(proxy["listen"])


def test_create_disabled_proxy(client: GoClient) -> None:
    listen, _ = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM, enabled=False)
    proxy = client.proxy("mysql_master")
    # Not listening, so nothing was bound: the address is shown as given.
    assert (proxy["listen"], proxy["upstream"], proxy["enabled"]) == (listen, UPSTREAM, False)
    assert not proxy_up(proxy["listen"])


def test_create_disabled_proxy_and_enable(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM, enabled=False)
    proxy = client.proxy("mysql_master")
    assert (proxy["listen"], proxy["enabled"]) == (listen, False)
    proxy = client.save({**proxy, "enabled": True})
    assert proxy["listen"] == bound
    assert proxy_up(proxy["listen"])
    proxy = client.save({**proxy, "enabled": False})
    assert not proxy_up(proxy["listen"])


def test_delete_proxy(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    assert client.proxies()
    assert proxy_up(bound)
    client.delete("mysql_master")
    assert not proxy_up(bound)
    assert client.proxies() == {}
    assert _error(client.delete, "mysql_master") == "Delete: HTTP 404: proxy not found"


def test_create_proxy_port_conflict(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    error = _error(client.create_proxy, "test", listen, UPSTREAM)
    assert error == f"Create: HTTP 500: listen tcp {bound}: bind: address already in use"
    client.delete("mysql_master")
    client.create_proxy("test", listen, UPSTREAM)


def test_create_proxy_name_conflict(client: GoClient) -> None:
    listen, _ = _localhost()
    other, _ = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    error = _error(client.create_proxy, "mysql_master", other, UPSTREAM)
    assert error == "Create: HTTP 409: proxy already exists"
    client.delete("mysql_master")
    client.create_proxy("mysql_master", other, UPSTREAM)


def test_reset_state(client: GoClient) -> None:
    listen, _ = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    latency = client.add_toxic(
        "mysql_master", "", "latency", "downstream", 1, {"latency": 100, "jitter": 10}
    )
    assert latency["attributes"] == {"latency": 100, "jitter": 10}
    client.save({**client.proxy("mysql_master"), "enabled": False})
    client.reset_state()
    proxy = client.proxies()["mysql_master"]
    assert proxy["enabled"]
    assert toxic_named(client.toxics("mysql_master"), "latency_downstream") is None
    assert proxy_up(proxy["listen"])


def test_reset_that_cannot_listen_is_500(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM, enabled=False)
    client.add_toxic("mysql_master", "", "latency", "downstream", 1, None)
    host, port = bound.rsplit(":", 1)
    with socket.create_server((host, int(port))):
        error = _error(client.reset_state)
    assert error == f"ResetState: HTTP 500: listen tcp {bound}: bind: address already in use"
    assert client.toxics("mysql_master") == []  # the toxics are removed all the same


# -- /populate -------------------------------------------------------------------------


def test_populate_proxy(client: GoClient) -> None:
    (one, _), (two, _) = _localhost(), _localhost()
    proxies = client.populate(
        [
            {"name": "one", "listen": one, "upstream": "localhost:7171", "enabled": True},
            {"name": "two", "listen": two, "upstream": "localhost:7474", "enabled": True},
        ]
    )
    assert [p["name"] for p in proxies] == ["one", "two"]
    assert all(proxy_up(p["listen"]) for p in proxies)


def test_populate_default_enabled(client: GoClient) -> None:
    listen, _ = _localhost()
    body = f'[{{"name": "test", "listen": "{listen}", "upstream": "localhost:7171"}}]'
    r = client.http.post("/populate", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    proxies = client.proxies()
    assert list(proxies) == ["test"]
    assert proxy_up(proxies["test"]["listen"])


def test_populate_disabled_proxy(client: GoClient) -> None:
    (one, _), (two, _) = _localhost(), _localhost()
    proxies = client.populate(
        [
            {"name": "one", "listen": one, "upstream": "localhost:7171", "enabled": False},
            {"name": "two", "listen": two, "upstream": "localhost:7474", "enabled": True},
        ]
    )
    assert [p["name"] for p in proxies] == ["one", "two"]
    assert not proxy_up(one)
    assert proxy_up(two)


def test_populate_existing_proxy(client: GoClient) -> None:
    one, one_bound = _localhost()
    two, _ = _localhost()
    _, three_bound = _localhost()
    client.create_proxy("one", one, "localhost:7171")
    client.create_proxy("two", two, "localhost:7474")
    client.add_toxic("one", "", "latency", "downstream", 1, None)  # shows it was kept
    proxies = client.populate(
        [
            {"name": "one", "listen": one_bound, "upstream": "localhost:7171", "enabled": True},
            {"name": "two", "listen": three_bound, "upstream": "localhost:7676", "enabled": True},
        ]
    )
    assert [p["name"] for p in proxies] == ["one", "two"]
    assert [p["listen"] for p in proxies] == [one_bound, three_bound]
    toxics = client.toxics("one")
    assert [t["type"] for t in toxics] == ["latency"]
    assert all(proxy_up(p["listen"]) for p in proxies)


def test_populate_with_bad_name(client: GoClient) -> None:
    listen, _ = _localhost()
    error = _error(
        client.populate,
        [
            {"name": "one", "listen": listen, "upstream": "localhost:7171", "enabled": True},
            {"name": "", "listen": "", "enabled": True},
        ],
    )
    assert error == "Populate: HTTP 400: missing required field: name at proxy 2"
    assert client.proxies() == {}


def test_populate_with_bad_data_creates_nothing(client: GoClient) -> None:
    (one, _), (three, _) = _localhost(), _localhost()
    with pytest.raises(ToxiproxyError, match="Populate: HTTP 400: "):
        client.populate(
            [
                {"name": "one", "listen": one, "upstream": "localhost:7171", "enabled": True},
                {"name": "two", "listen": "local373", "upstream": "localhost:7474"},
                {"name": "three", "listen": three, "upstream": "localhost:7676"},
            ]
        )
    # All or nothing (Toxiproxy creates "one" before failing on "two").
    assert client.proxies() == {}
    assert not proxy_up(one)


def test_populate_add_toxic(client: GoClient) -> None:
    listen, _ = _localhost()
    proxies = client.populate(
        [{"name": "one", "listen": listen, "upstream": "localhost:7171", "enabled": True}]
    )
    assert [p["name"] for p in proxies] == ["one"]
    client.add_toxic("one", "", "latency", "downstream", 1, None)


# -- toxics ----------------------------------------------------------------------------


@pytest.fixture
def mysql_master(client: GoClient) -> str:
    listen, _ = _localhost()
    client.create_proxy("mysql_master", listen, UPSTREAM)
    return "mysql_master"


def test_listing_toxics(client: GoClient, mysql_master: str) -> None:
    assert client.toxics(mysql_master) == []


def test_add_toxic(client: GoClient, mysql_master: str) -> None:
    latency = client.add_toxic(
        mysql_master, "foobar", "latency", "downstream", 1, {"latency": 100, "jitter": 10}
    )
    assert latency["attributes"] == {"latency": 100, "jitter": 10}
    toxic = toxic_named(client.toxics(mysql_master), "foobar")
    assert toxic == {
        "name": "foobar",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 100, "jitter": 10},
    }


def test_add_multiple_toxics(client: GoClient, mysql_master: str) -> None:
    client.add_toxic(mysql_master, "latency1", "latency", "downstream", 1, None)
    client.add_toxic(mysql_master, "latency2", "latency", "downstream", 1, None)
    toxics = client.toxics(mysql_master)
    assert [(t["name"], t["stream"]) for t in toxics] == [
        ("latency1", "downstream"),
        ("latency2", "downstream"),
    ]
    assert toxics[1]["toxicity"] == 1.0
    assert toxics[1]["attributes"] == {"latency": 0, "jitter": 0}
    assert toxic_named(toxics, "latency1", "upstream") is None


def test_add_conflicting_toxic(client: GoClient, mysql_master: str) -> None:
    client.add_toxic(mysql_master, "foobar", "latency", "downstream", 1, None)
    error = _error(client.add_toxic, mysql_master, "foobar", "slow_close", "downstream", 1, None)
    assert error == "AddToxic: HTTP 409: toxic already exists"
    toxics = client.toxics(mysql_master)
    assert [(t["name"], t["type"], t["stream"]) for t in toxics] == [
        ("foobar", "latency", "downstream")
    ]


def test_add_conflicting_toxics_multistream(client: GoClient, mysql_master: str) -> None:
    client.add_toxic(mysql_master, "foobar", "latency", "upstream", 1, None)
    error = _error(client.add_toxic, mysql_master, "foobar", "latency", "downstream", 1, None)
    assert error == "AddToxic: HTTP 409: toxic already exists"
    toxics = client.toxics(mysql_master)
    assert [(t["name"], t["stream"]) for t in toxics] == [("foobar", "upstream")]
    assert toxics[0]["attributes"] == {"latency": 0, "jitter": 0}


def test_add_conflicting_toxics_multistream_defaults(client: GoClient, mysql_master: str) -> None:
    client.add_toxic(mysql_master, "", "latency", "upstream", 1, None)
    client.add_toxic(mysql_master, "", "latency", "downstream", 1, None)
    toxics = client.toxics(mysql_master)
    assert [(t["name"], t["type"], t["stream"], t["toxicity"]) for t in toxics] == [
        ("latency_upstream", "latency", "upstream", 1.0),
        ("latency_downstream", "latency", "downstream", 1.0),
    ]


def test_add_toxic_with_toxicity(client: GoClient, mysql_master: str) -> None:
    latency = client.add_toxic(
        mysql_master, "", "latency", "downstream", 0.2, {"latency": 100, "jitter": 10}
    )
    assert (latency["toxicity"], latency["attributes"]["latency"]) == (0.2, 100)
    toxic = toxic_named(client.toxics(mysql_master), "latency_downstream", "downstream")
    assert toxic is not None
    assert (toxic["toxicity"], toxic["attributes"]) == (0.2, {"latency": 100, "jitter": 10})


def test_add_noop(client: GoClient, mysql_master: str) -> None:
    noop = client.add_toxic(mysql_master, "foobar", "noop", "", 1, None)
    assert (noop["name"], noop["type"], noop["stream"], noop["toxicity"]) == (
        "foobar",
        "noop",
        "downstream",
        1.0,
    )
    toxic = toxic_named(client.toxics(mysql_master), "foobar", "downstream")
    assert toxic is not None
    assert (toxic["type"], toxic["toxicity"]) == ("noop", 1.0)


def test_update_toxics(client: GoClient, mysql_master: str) -> None:
    latency = client.add_toxic(
        mysql_master, "", "latency", "downstream", -1, {"latency": 100, "jitter": 10}
    )
    assert (latency["toxicity"], latency["attributes"]) == (1.0, {"latency": 100, "jitter": 10})
    latency = client.update_toxic(mysql_master, "latency_downstream", 0.5, {"latency": 1000})
    assert (latency["toxicity"], latency["attributes"]) == (0.5, {"latency": 1000, "jitter": 10})
    latency = client.update_toxic(mysql_master, "latency_downstream", -1, {"latency": 500})
    assert (latency["toxicity"], latency["attributes"]) == (0.5, {"latency": 500, "jitter": 10})
    toxic = toxic_named(client.toxics(mysql_master), "latency_downstream", "downstream")
    assert toxic is not None
    assert (toxic["toxicity"], toxic["attributes"]) == (0.5, {"latency": 500, "jitter": 10})


def test_remove_toxic(client: GoClient, mysql_master: str) -> None:
    client.add_toxic(mysql_master, "", "latency", "downstream", 1, None)
    toxic = toxic_named(client.toxics(mysql_master), "latency_downstream", "downstream")
    assert toxic is not None
    assert (toxic["toxicity"], toxic["attributes"]) == (1.0, {"latency": 0, "jitter": 0})
    client.remove_toxic(mysql_master, "latency_downstream")
    assert client.toxics(mysql_master) == []


def test_invalid_stream(client: GoClient, mysql_master: str) -> None:
    error = _error(client.add_toxic, mysql_master, "", "latency", "walrustream", 1, None)
    assert error.startswith("AddToxic: HTTP 400: stream")


# -- beyond api_test.go: what Toxiproxy also does and clients rely on -------------------


def test_populate_keeps_a_proxy_named_by_host_name(client: GoClient, upstream: Any) -> None:
    from tests.integration.chaos.conftest import echo

    up = upstream(echo).address
    listen, bound = _localhost()
    client.create_proxy("redis", bound, up)
    client.add_toxic("redis", "", "latency", "downstream", 1, {"latency": 1})
    host, port = bound.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"before")
        assert sock.recv(100) == b"before"
        # localhost:P is the 127.0.0.1:P the proxy bound: the proxy is kept as it is.
        proxies = client.populate([{"name": "redis", "listen": listen, "upstream": up}])
        assert proxies[0]["listen"] == bound
        assert [t["name"] for t in client.toxics("redis")] == ["latency_downstream"]
        sock.sendall(b"after")
        assert sock.recv(100) == b"after"  # the open connection was left alone


def test_populate_that_cannot_listen_changes_nothing(client: GoClient) -> None:
    listen, bound = _localhost()
    client.create_proxy("kept", listen, UPSTREAM)
    client.add_toxic("kept", "", "latency", "downstream", 1, None)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        other, _ = _localhost()
        error = _error(
            client.populate,
            [
                {"name": "kept", "listen": bound, "upstream": "localhost:1", "enabled": True},
                {"name": "new", "listen": other, "upstream": UPSTREAM, "enabled": True},
                {"name": "busy", "listen": busy, "upstream": UPSTREAM, "enabled": True},
            ],
        )
    assert error == f"Populate: HTTP 500: listen tcp {busy}: bind: address already in use"
    proxies = client.proxies()
    assert list(proxies) == ["kept"]
    assert (proxies["kept"]["upstream"], proxies["kept"]["listen"]) == (UPSTREAM, bound)
    assert [t["name"] for t in proxies["kept"]["toxics"]] == ["latency_downstream"]
    assert proxy_up(bound)
    assert not proxy_up(other)


def test_unknown_fields_are_ignored_with_a_warning(
    client: GoClient, seawall_proxy: SeawallProxy
) -> None:
    listen, _ = _localhost()
    r = client.http.post(
        "/proxies",
        json={"name": "p", "listen": listen, "upstream": UPSTREAM, "rand_seed": 7},
    )
    assert r.status_code == 201, r.text
    r = client.http.post(
        "/proxies/p/toxics",
        json={"type": "latency", "attributes": {"latency": 5, "latncy": 9}, "enabled": True},
    )
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"latency": 5, "jitter": 0}
    log = seawall_proxy.log.read_text()
    assert "ignoring unknown field 'rand_seed'" in log
    assert "ignoring unknown field 'attributes.latncy'" in log


def test_toxiproxy_python_sees_the_timeout_lifecycle_and_errors(
    python_client: Any, upstream: Any
) -> None:
    from toxiproxy.exceptions import NotFound

    from tests.integration.chaos.conftest import echo

    proxy = python_client.create(upstream=upstream(echo).address, name="redis")
    listen = python_client.get_proxy("redis").listen
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"PING")
        assert sock.recv(100) == b"PING"
        proxy.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
        sock.sendall(b"GET a")  # dropped: its reply will never come
        proxy.destroy_toxic("timeout_upstream")
        sock.settimeout(1)
        assert sock.recv(100) == b""  # closed, so no reply is paired with the wrong request
    proxy.add_toxic(type="noop", name="placeholder")
    assert list(proxy.toxics()) == ["placeholder"]
    proxy.destroy()
    with pytest.raises(NotFound, match="proxy not found"):
        proxy.destroy()
