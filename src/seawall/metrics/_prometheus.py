"""The Prometheus collector: seawall's counters, read when Prometheus scrapes.

resilience4j's FunctionCounter approach: the policies keep plain integer fields, and
this collector turns one :func:`seawall.snapshot` into metric families at scrape time.
Nothing on the call path touches prometheus_client.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import REGISTRY, Collector

from seawall._durations import BUCKETS, CLIENT, SERVER, Durations
from seawall._snapshot import snapshot
from seawall.metrics._families import compute

__all__ = ["SeawallCollector", "register", "text"]

SERVER_HISTOGRAM = "http_server_request_duration_seconds"
CLIENT_HISTOGRAM = "http_client_request_duration_seconds"
_SERVER_LABELS = ("http_route", "http_request_method", "http_response_status_code")
_CLIENT_LABELS = ("name", "target", "http_request_method", "http_response_status_code")


def _histogram(name: str, help: str, labels: tuple[str, ...], durations: Durations) -> Metric:
    family = HistogramMetricFamily(name, help, labels=labels, unit="")
    bounds = [*(f"{b:g}" for b in BUCKETS), "+Inf"]
    for key, series in durations.items():
        counts = list(series.counts)
        running = 0
        buckets = []
        for bound, n in zip(bounds, counts, strict=True):
            running += n
            buckets.append((bound, float(running)))
        # A client attempt that got no response (a network error) has status "".
        family.add_metric(["" if v is None else str(v) for v in key], buckets, series.sum)
    return family


class SeawallCollector(Collector):
    """Every seawall metric of the process, computed from the policies when collected."""

    def collect(self) -> Iterator[Metric]:
        for family in compute(snapshot().policies):
            spec = family.spec
            labels = ["name", "target", *spec.labels]
            metric: Any
            if spec.type == "counter":
                metric = CounterMetricFamily(
                    spec.name.removesuffix("_total"), spec.help, labels=labels
                )
            else:
                metric = GaugeMetricFamily(spec.name, spec.help, labels=labels)
            for key, value in family.samples.items():
                metric.add_metric(list(key), value)
            yield metric
        yield _histogram(
            SERVER_HISTOGRAM, "Duration of HTTP server requests.", _SERVER_LABELS, SERVER
        )
        yield _histogram(
            CLIENT_HISTOGRAM,
            "Duration of HTTP client request attempts.",
            _CLIENT_LABELS,
            CLIENT,
        )


_registered: weakref.WeakKeyDictionary[CollectorRegistry, SeawallCollector] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def register(registry: CollectorRegistry | None = None) -> SeawallCollector:
    """Add seawall's collector to ``registry`` (prometheus_client's default one if None).

    Registering twice with the same registry returns the collector already there.
    """
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _registered.get(target)
        if found is None:
            found = _registered[target] = SeawallCollector()
            target.register(found)
        return found


_own: CollectorRegistry | None = None


def text(registry: CollectorRegistry | None = None) -> bytes:
    """The Prometheus text exposition of ``registry``, or of a registry of seawall's own."""
    global _own
    if registry is None:
        with _lock:
            if _own is None:
                _own = CollectorRegistry(auto_describe=False)
                _own.register(SeawallCollector())
            registry = _own
    return generate_latest(registry)
