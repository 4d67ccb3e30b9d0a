"""The Prometheus collector: seawall's counters, read when Prometheus scrapes.

resilience4j's FunctionCounter approach: the policies keep plain integer fields, and
this collector turns one :func:`seawall.snapshot` into metric families at scrape time.
Nothing on the call path touches prometheus_client.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from prometheus_client.samples import Sample

from seawall._durations import BUCKETS, CLIENT, RPC_CLIENT, RPC_SERVER, SERVER, Durations
from seawall._snapshot import take
from seawall.metrics._exposition import (
    RPC_CLIENT_HISTOGRAM,
    RPC_CLIENT_LABELS,
    RPC_SERVER_HISTOGRAM,
    RPC_SERVER_LABELS,
    render,
)
from seawall.metrics._families import compute

__all__ = ["SeawallCollector", "register", "text"]

SERVER_HISTOGRAM = "http_server_request_duration_seconds"
CLIENT_HISTOGRAM = "http_client_request_duration_seconds"
_SERVER_LABELS = ("http_route", "http_request_method", "http_response_status_code")
_CLIENT_LABELS = ("name", "target", "http_request_method", "http_response_status_code")


def _histogram(
    name: str,
    help: str,
    labels: tuple[str, ...],
    durations: Durations,
    *,
    rpc: int | None = None,
) -> Metric:
    """One histogram family; ``rpc`` is where the ``rpc_system`` label goes (milliseconds)."""
    family = HistogramMetricFamily(name, help, labels=labels, unit="")
    scale = 1.0 if rpc is None else 1000.0
    bounds = [*(repr(float(b) * scale) for b in BUCKETS), "+Inf"]
    for key, series in durations.items():
        counts = list(series.counts)
        running = 0
        buckets = []
        for bound, n in zip(bounds, counts, strict=True):
            running += n
            buckets.append((bound, float(running)))
        # A client attempt that got no response (a network error) has status "".
        values = ["" if v is None else str(v) for v in key]
        if rpc is not None:
            values.insert(rpc, "grpc")
        family.add_metric(values, buckets, series.sum * scale)
    return family


class SeawallCollector(Collector):
    """Every seawall metric of the process, computed from the policies when collected."""

    def collect(self) -> Iterator[Metric]:
        for family in compute(take(freeze=False).policies):
            spec = family.spec
            # prometheus_client writes a counter family's samples as <name>_total.
            name = spec.name.removesuffix("_total") if spec.type == "counter" else spec.name
            metric = Metric(name, spec.help, spec.type)
            keys = spec.labels
            for (policy, target, *extra), value in family.samples.items():
                labels = dict(zip(keys, extra, strict=True))
                labels["name"] = policy
                if target:  # only a client's per-host policies have a target
                    labels["target"] = target
                metric.samples.append(Sample(spec.name, labels, value, None, None, None))
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
        yield _histogram(
            RPC_SERVER_HISTOGRAM,
            "Duration of inbound gRPC calls.",
            RPC_SERVER_LABELS,
            RPC_SERVER,
            rpc=0,
        )
        yield _histogram(
            RPC_CLIENT_HISTOGRAM,
            "Duration of outbound gRPC call attempts.",
            RPC_CLIENT_LABELS,
            RPC_CLIENT,
            rpc=2,
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


def text(registry: CollectorRegistry | None = None) -> bytes:
    """The text exposition of ``registry`` (generate_latest), or of seawall's series alone."""
    if registry is None:
        return render()
    return generate_latest(registry)
