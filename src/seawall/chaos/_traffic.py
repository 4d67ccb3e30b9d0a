"""Bytes through each proxy, counted as plain integers and formatted at scrape time.

Toxiproxy's ``-proxy-metrics`` names and labels, so its dashboards and alerts work
unchanged: ``toxiproxy_proxy_received_bytes_total`` counts what the proxy read and
``toxiproxy_proxy_sent_bytes_total`` what it wrote, with ``direction`` ``upstream``
(client to server) or ``downstream`` (server to client), and the proxy's ``proxy``,
``listener`` and ``upstream``. Received minus sent is what the toxics hold back or drop
(a ``latency`` toxic's queue, a ``limit_data`` cut). The counting costs one integer
addition per read or write on the proxy's own loop; no metrics library runs there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["CONTENT_TYPE", "Traffic", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DIRECTIONS = ("upstream", "downstream")


class Traffic:
    """A proxy's byte counters by direction; they only grow, across connections."""

    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.received = dict.fromkeys(DIRECTIONS, 0)
        self.sent = dict.fromkeys(DIRECTIONS, 0)


class Counted(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def listen(self) -> str: ...

    @property
    def upstream(self) -> str: ...

    @property
    def traffic(self) -> Traffic: ...


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(proxies: Iterable[Counted]) -> str:
    """The Prometheus text exposition (0.0.4) of every proxy's counters."""
    rows = sorted(proxies, key=lambda p: p.name)
    out: list[str] = []
    for kind, verb in (("received", "received"), ("sent", "sent")):
        metric = f"toxiproxy_proxy_{kind}_bytes_total"
        out.append(f"# HELP {metric} The total bytes {verb} on a given proxy link")
        out.append(f"# TYPE {metric} counter")
        for proxy in rows:
            counts = getattr(proxy.traffic, kind)
            for direction in DIRECTIONS:
                labels = (
                    f'direction="{direction}",listener="{_label(proxy.listen)}",'
                    f'proxy="{_label(proxy.name)}",upstream="{_label(proxy.upstream)}"'
                )
                out.append(f"{metric}{{{labels}}} {counts[direction]}")
    return "\n".join(out) + "\n"
