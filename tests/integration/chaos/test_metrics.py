"""The fault proxy's ``/metrics``: Toxiproxy's byte counters, scraped by a real Prometheus."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from seawall.canary._exposition import parse
from seawall.chaos import ProxyServer
from tests.integration.chaos.conftest import blob, connect, echo, recv_all

Start = Callable[..., Any]


def _counters(url: str) -> dict[tuple[str, str, str], float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (s.name, s.labels["proxy"], s.labels["direction"]): s.value
        for s in parse(text)
        if s.name.startswith("toxiproxy_proxy_")
    }


def test_bytes_are_counted_per_direction_and_scraped_by_prometheus(
    upstream: Start, prometheus_server: Any
) -> None:
    echo_server, blob_server = upstream(echo), upstream(blob(100_000))
    with ProxyServer(port=0, rng=random.Random(0)) as server:
        api = httpx.Client(base_url=server.url, timeout=10)
        listen = {}
        for name, up in (("echo", echo_server), ("blob", blob_server)):
            answer = api.post(
                "/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": up.address}
            )
            listen[name] = answer.json()["listen"]
        answer = httpx.get(f"{server.url}/metrics", timeout=5)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert (
            _counters(server.url)["toxiproxy_proxy_received_bytes_total", "echo", "upstream"] == 0
        )

        with connect(listen["echo"]) as sock:
            for _ in range(10):
                sock.sendall(b"x" * 1000)
                got = 0
                while got < 1000:
                    got += len(sock.recv(65536))
        with connect(listen["blob"]) as sock:
            assert len(recv_all(sock)) == 100_000
        # A latency toxic holds bytes back: received counts them before sent does.
        api.post(
            "/proxies/echo/toxics",
            json={"type": "latency", "stream": "downstream", "attributes": {"latency": 300}},
        )
        with connect(listen["echo"]) as sock:
            sock.sendall(b"y" * 500)
            time.sleep(0.1)
            held = _counters(server.url)
            assert sock.recv(65536)
        counters = _counters(server.url)
        assert counters["toxiproxy_proxy_received_bytes_total", "echo", "upstream"] == 10_500
        assert counters["toxiproxy_proxy_sent_bytes_total", "echo", "upstream"] == 10_500
        assert counters["toxiproxy_proxy_received_bytes_total", "echo", "downstream"] == 10_500
        assert counters["toxiproxy_proxy_sent_bytes_total", "echo", "downstream"] == 10_500
        assert held["toxiproxy_proxy_received_bytes_total", "echo", "downstream"] == 10_500
        assert held["toxiproxy_proxy_sent_bytes_total", "echo", "downstream"] == 10_000
        assert counters["toxiproxy_proxy_received_bytes_total", "blob", "downstream"] == 100_000
        assert counters["toxiproxy_proxy_sent_bytes_total", "blob", "upstream"] == 0

        target = server.url.removeprefix("http://")
        prometheus_server.scrape({"toxiproxy": [target]})
        [row] = prometheus_server.query(
            'toxiproxy_proxy_sent_bytes_total{proxy="blob",direction="downstream"}'
        )
        assert row["metric"]["listener"] == listen["blob"]
        assert row["metric"]["upstream"] == blob_server.address
        assert float(row["value"][1]) == 100_000
        api.close()


def test_metrics_is_get_only() -> None:
    with ProxyServer(port=0) as server:
        assert httpx.post(f"{server.url}/metrics", timeout=5).status_code == 405
