"""HTTP request and gRPC call durations as plain per-bucket counters, kept by the edges.

OpenTelemetry's HTTP semantic conventions name two histograms,
``http.server.request.duration`` and ``http.client.request.duration`` (seconds). The
edges count into them here with one dictionary lookup, one bisect and two additions per
request; the Prometheus collector and the OpenTelemetry instruments read the counts when
they are scraped, so the request path never calls a metrics library.

Labels are bounded. A server's ``route`` is the framework's route template (never the
raw path, which would make one series per id), a method outside the HTTP standard ones
is ``_OTHER``, a client's ``target`` is capped process-wide (see :mod:`seawall._catalog`),
and each histogram holds at most :data:`MAX_SERIES` label sets: any further one is
counted under ``route``/``target`` ``other``.

gRPC calls are counted the same way, in OpenTelemetry's RPC histograms
``rpc.client.duration`` (per attempt, like the HTTP client's) and ``rpc.server.duration``.
A method path ``/package.Service/Method`` comes from the caller, so at most
:data:`MAX_METHODS` distinct paths are labelled as they are; every later one (and any
path that is not of that form) is service and method ``_OTHER``, OTel's own word for a
method it will not name.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

__all__ = [
    "BUCKETS",
    "CLIENT",
    "MAX_METHODS",
    "MAX_SERIES",
    "RPC_CLIENT",
    "RPC_SERVER",
    "SERVER",
    "Durations",
    "Series",
    "method_label",
    "route_label",
    "rpc_labels",
]

# OpenTelemetry's default explicit bucket bounds for HTTP durations, in seconds.
BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
MAX_SERIES = 2000
MAX_METHODS = 200
UNMATCHED = "other"
RPC_OTHER = "_OTHER"
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def method_label(method: str) -> str:
    """``method`` if it is a standard HTTP method, else ``_OTHER`` (OTel's rule)."""
    return method if method in _METHODS else "_OTHER"


def route_label(scope: Any) -> str:
    """The route template an ASGI framework matched (``scope["route"].path``), else ``other``.

    Starlette and FastAPI put the matched route object in the scope; its ``path`` is the
    template (``/orders/{id}``). Anything else (no router, a 404, a request answered
    before routing) is ``other``: the raw path would be one series per id.
    """
    route = scope.get("route")
    path = getattr(route, "path", None) if route is not None else None
    return path if isinstance(path, str) and path else UNMATCHED


_rpc_methods: dict[str, tuple[str, str]] = {}
_rpc_lock = threading.Lock()
_RPC_UNNAMED = (RPC_OTHER, RPC_OTHER)


def rpc_labels(path: str) -> tuple[str, str]:
    """``(rpc.service, rpc.method)`` of a gRPC method path, capped at :data:`MAX_METHODS`.

    ``/demo.Greeter/Hello`` is ``("demo.Greeter", "Hello")``; a path of another form, or
    any new path once the cap is reached, is ``("_OTHER", "_OTHER")``.
    """
    found = _rpc_methods.get(path)
    if found is not None:
        return found
    service, slash, method = path.removeprefix("/").partition("/")
    if not (slash and service and method) or "/" in method:
        return _RPC_UNNAMED
    with _rpc_lock:
        found = _rpc_methods.get(path)
        if found is None:
            if len(_rpc_methods) >= MAX_METHODS:
                return _RPC_UNNAMED
            found = _rpc_methods[path] = (service, method)
    return found


class Series:
    """One label set's histogram: per-bucket (not cumulative) counts, and the sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)


class Durations:
    """A histogram of request durations by label set, bounded to ``MAX_SERIES`` sets."""

    def __init__(self, labels: tuple[str, ...], overflow: int) -> None:
        self.labels = labels
        self._overflow = overflow  # the label replaced by "other" when the cap is reached
        self._series: dict[tuple[Any, ...], Series] = {}
        self._lock = threading.Lock()

    def record(self, key: tuple[Any, ...], seconds: float) -> None:
        """Count one request of ``seconds`` under the label values ``key``."""
        series = self._series.get(key)
        if series is None:
            series = self._add(key)
        series.counts[bisect_left(BUCKETS, seconds)] += 1
        series.sum += seconds

    def _add(self, key: tuple[Any, ...]) -> Series:
        with self._lock:
            series = self._series.get(key)
            if series is not None:
                return series
            if len(self._series) >= MAX_SERIES:
                key = (*key[: self._overflow], UNMATCHED, *key[self._overflow + 1 :])
                series = self._series.get(key)
                if series is not None:
                    return series
            series = self._series[key] = Series()
            return series

    def items(self) -> Iterator[tuple[tuple[Any, ...], Series]]:
        """Every label set with its series (a copy of the set list, live series)."""
        with self._lock:
            found = list(self._series.items())
        return iter(found)

    def rows(self) -> list[dict[str, Any]]:
        """The JSON form: one dict per label set with ``count``, ``sum`` and ``counts``."""
        rows = []
        for key, series in self.items():
            counts = list(series.counts)
            rows.append(
                {
                    **dict(zip(self.labels, key, strict=True)),
                    "count": sum(counts),
                    "sum": series.sum,
                    "counts": counts,
                }
            )
        return rows

    def clear(self) -> None:
        with self._lock:
            self._series.clear()


# route, method, status
SERVER = Durations(("route", "method", "status"), overflow=0)
# name, target, method, status (None: no response, a network error)
CLIENT = Durations(("name", "target", "method", "status"), overflow=1)
# service, method, grpc status code (an int)
RPC_SERVER = Durations(("service", "method", "status"), overflow=0)
# name, target, service, method, grpc status code (an int)
RPC_CLIENT = Durations(("name", "target", "service", "method", "status"), overflow=1)
