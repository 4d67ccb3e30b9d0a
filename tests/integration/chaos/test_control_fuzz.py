"""Generated requests never make the control API fail: every answer is a 2xx or a 4xx
with a JSON error, never a 500 and never an exception; the HTTP layer survives junk.

Listen addresses are drawn from loopback values only (the proxies these requests create
really bind); upstreams are never connected to.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall.chaos import ProxyConfig, ProxyServer, Toxic
from seawall.chaos._control import ControlAPI
from seawall.chaos._loop import LoopThread
from seawall.chaos._registry import ProxyRegistry

ANSWERS = {200, 201, 204, 400, 403, 404, 405, 409}

listen_values = st.sampled_from(
    ["127.0.0.1:0", "localhost:0", "[::1]:0", "127.0.0.1:99999", "127.0.0.1", "", ":x", None, 7]
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6).filter(lambda k: k != "listen"), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.sampled_from(["p", "q", "latency_downstream", "t", ""]) | st.text(max_size=5)
toxic_types = st.sampled_from(
    ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "nope"]
)
attribute_values = st.integers(min_value=-2, max_value=2**64) | json_values
attributes = st.dictionaries(
    st.sampled_from(
        [
            "latency",
            "jitter",
            "rate",
            "delay",
            "timeout",
            "average_size",
            "size_variation",
            "bytes",
            "x",
        ]
    ),
    attribute_values,
    max_size=3,
)
toxic_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": names | json_values,
        "type": toxic_types | json_values,
        "stream": st.sampled_from(["upstream", "downstream", ""]) | json_values,
        "toxicity": st.floats(min_value=-1, max_value=2) | json_values,
        "attributes": attributes | json_values,
    },
)
proxy_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": names | json_values,
        "listen": listen_values,
        "upstream": st.sampled_from(["127.0.0.1:1", "h:65535", "h:0", "[::1]:5", "nope"])
        | json_values,
        "enabled": st.booleans() | json_values,
        "toxics": st.lists(toxic_bodies, max_size=2) | json_values,
    },
)
likely_toxics = st.fixed_dictionaries(
    {"type": toxic_types},
    optional={
        "name": names,
        "stream": st.sampled_from(["upstream", "downstream"]),
        "toxicity": st.floats(min_value=0, max_value=1),
        "attributes": st.dictionaries(
            st.sampled_from(["latency", "rate", "timeout", "average_size", "bytes"]),
            st.integers(min_value=0, max_value=10**6),
            max_size=2,
        ),
    },
)
likely_proxies = st.fixed_dictionaries(
    {"name": st.sampled_from(["p", "q", "r"]), "upstream": st.just("127.0.0.1:1")},
    optional={
        "listen": listen_values,
        "enabled": st.booleans(),
        "toxics": st.lists(likely_toxics, max_size=2),
    },
)
bodies = (
    likely_proxies.map(json.dumps)
    | st.lists(likely_proxies, max_size=3).map(json.dumps)
    | likely_toxics.map(json.dumps)
    | proxy_bodies.map(json.dumps)
    | toxic_bodies.map(json.dumps)
    | st.lists(proxy_bodies, max_size=3).map(json.dumps)
    | json_values.map(json.dumps)
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)
proxy_names = st.sampled_from(["p", "p", "q"]) | names
routes = st.one_of(
    st.sampled_from(["/proxies", "/populate", "/reset", "/version"]),
    proxy_names.map(lambda n: f"/proxies/{n}"),
    proxy_names.map(lambda n: f"/proxies/{n}/toxics"),
    st.tuples(proxy_names, names).map(lambda nt: f"/proxies/{nt[0]}/toxics/{nt[1]}"),
    st.lists(names, max_size=5).map(lambda s: "/" + "/".join(s)),
)
methods = st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "get", "BREW", ""])
# Well-aimed requests (the right body for the route) reach the deep paths; random
# triples cover everything else.
aimed = st.one_of(
    st.tuples(st.just("POST"), st.just("/proxies"), likely_proxies.map(json.dumps)),
    st.tuples(st.just("POST"), st.just("/populate"), st.lists(likely_proxies).map(json.dumps)),
    st.tuples(
        st.sampled_from(["POST", "PATCH"]),
        proxy_names.map(lambda n: f"/proxies/{n}"),
        (likely_proxies | proxy_bodies).map(json.dumps),
    ),
    st.tuples(
        st.just("POST"),
        proxy_names.map(lambda n: f"/proxies/{n}/toxics"),
        (likely_toxics | toxic_bodies).map(json.dumps),
    ),
    st.tuples(
        st.sampled_from(["POST", "PATCH"]),
        st.just("/proxies/p/toxics/latency_downstream"),
        (likely_toxics | toxic_bodies).map(json.dumps),
    ),
)
requests = st.lists(aimed | st.tuples(methods, routes, bodies), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def runner() -> Iterator[LoopThread]:
    loop_thread = LoopThread("fuzz")
    yield loop_thread
    loop_thread.stop()


def _fresh_api(runner: LoopThread) -> tuple[ControlAPI, ProxyRegistry]:
    def build() -> ProxyRegistry:
        registry = ProxyRegistry(random.Random(0))
        registry.create(ProxyConfig(name="p", upstream="127.0.0.1:1", toxics=(Toxic("latency"),)))
        return registry

    registry = runner.call(build)
    return ControlAPI(registry), registry


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=requests)
def test_control_api_answers_every_request(runner: LoopThread, batch: list[Any]) -> None:
    api, registry = _fresh_api(runner)
    try:
        for method, path, body in batch:
            status, payload = runner.call(api.handle, method, path, body.encode("utf-8", "replace"))
            assert status in ANSWERS, (method, path, body, status, payload)
            json.dumps(payload)  # always serialisable
            if status >= 400:
                assert payload["status"] == status
                assert payload["error"]
    finally:
        runner.call(registry.close)


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=120).map(lambda t: t.encode()))
def test_http_layer_survives_junk(raw: bytes) -> None:
    with ProxyServer(port=0) as server:
        host, port = server.address
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(raw + b"\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            reply = b""
            while data := sock.recv(65536):
                reply += data
        assert reply == b"" or reply.startswith(b"HTTP/1.1 ")
        assert b"HTTP/1.1 500" not in reply
        # Still serving.
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"GET /version HTTP/1.0\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
