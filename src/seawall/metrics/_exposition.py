"""Prometheus's text exposition format (0.0.4), written by seawall for its own series.

prometheus_client's ``generate_latest`` validates and escapes every label of every
sample on every scrape: over the ~7,000 series of 1,000 policies that is 150-300 ms of
CPU under the GIL per scrape on a busy two-core machine, which a service scraped every
second pays in latency. seawall's label sets repeat from one scrape to the next, so each
series' ``name{labels}`` prefix is escaped once and cached; a scrape then writes only
numbers. The output is the format prometheus_client writes (a test parses both and
compares them), and needs no metrics library at all.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

from seawall._durations import BUCKETS, CLIENT, RPC_CLIENT, RPC_SERVER, SERVER, Durations
from seawall._snapshot import take
from seawall.metrics._families import Family, compute

__all__ = [
    "CLIENT_HISTOGRAM",
    "CONTENT_TYPE",
    "RPC_CLIENT_HISTOGRAM",
    "RPC_SERVER_HISTOGRAM",
    "SERVER_HISTOGRAM",
    "render",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
SERVER_HISTOGRAM = "http_server_request_duration_seconds"
CLIENT_HISTOGRAM = "http_client_request_duration_seconds"
SERVER_LABELS = ("http_route", "http_request_method", "http_response_status_code")
CLIENT_LABELS = ("name", "target", "http_request_method", "http_response_status_code")
_LE = (*(repr(float(b)) for b in BUCKETS), "+Inf")
# OpenTelemetry's RPC conventions measure in milliseconds: rpc.server.duration and
# rpc.client.duration, exported to Prometheus with the unit in the name.
RPC_SERVER_HISTOGRAM = "rpc_server_duration_milliseconds"
RPC_CLIENT_HISTOGRAM = "rpc_client_duration_milliseconds"
RPC_SERVER_LABELS = ("rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code")
RPC_CLIENT_LABELS = ("name", "target", *RPC_SERVER_LABELS)
_RPC_LE = (*(repr(float(b) * 1000.0) for b in BUCKETS), "+Inf")

# Bounded: label sets are bounded already; this only stops a pathological process.
_MAX_CACHED = 200_000
_prefixes: dict[tuple[object, ...], str] = {}
_lock = threading.Lock()


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _prefix(metric: str, names: tuple[str, ...], values: tuple[object, ...]) -> str:
    key = (metric, names, values)
    found = _prefixes.get(key)
    if found is None:
        labels = ",".join(
            f'{n}="{_escape(str(v))}"'
            for n, v in zip(names, values, strict=True)
            if v != "" or n != "target"  # only a client's per-host policies have a target
        )
        found = f"{metric}{{{labels}}} " if labels else f"{metric} "
        with _lock:
            if len(_prefixes) >= _MAX_CACHED:
                _prefixes.clear()
            _prefixes[key] = found
    return found


# Per metric: label values -> (value, the whole line). Most series keep their value from
# one scrape to the next, so most lines are reused as they are.
_lines: dict[str, dict[tuple[object, ...], tuple[float, str]]] = {}


def _family(family: Family, out: list[str]) -> None:
    spec = family.spec
    out.append(f"# HELP {spec.name} {spec.help}\n# TYPE {spec.name} {spec.type}\n")
    names = ("name", "target", *spec.labels)
    lines = _lines.get(spec.name)
    if lines is None or len(lines) >= _MAX_CACHED:
        lines = _lines[spec.name] = {}
    for key, value in family.samples.items():
        known = lines.get(key)
        if known is None or known[0] != value:
            known = lines[key] = (value, f"{_prefix(spec.name, names, key)}{_number(value)}\n")
        out.append(known[1])


def _histogram(
    metric: str,
    help: str,
    names: tuple[str, ...],
    durations: Durations,
    out: list[str],
    *,
    rpc: int | None = None,
) -> None:
    """One histogram family; ``rpc`` is where the ``rpc_system`` label goes (milliseconds)."""
    out.append(f"# HELP {metric} {help}\n# TYPE {metric} histogram\n")
    bucket, total, count = f"{metric}_bucket", f"{metric}_sum", f"{metric}_count"
    with_le = (*names, "le")
    bounds, scale = (_LE, 1.0) if rpc is None else (_RPC_LE, 1000.0)
    for key, series in durations.items():
        values = tuple("" if v is None else v for v in key)
        if rpc is not None:
            values = (*values[:rpc], "grpc", *values[rpc:])
        running = 0
        for le, n in zip(bounds, list(series.counts), strict=True):
            running += n
            out.append(_prefix(bucket, with_le, (*values, le)))
            out.append(f"{_number(running)}\n")
        out.append(f"{_prefix(count, names, values)}{_number(running)}\n")
        out.append(f"{_prefix(total, names, values)}{_number(series.sum * scale)}\n")


def render(families: Iterable[Family] | None = None) -> bytes:
    """Every seawall series of the process, in Prometheus's text format."""
    if families is None:
        families = compute(take(freeze=False).policies)
    out: list[str] = []
    for family in families:
        _family(family, out)
    _histogram(SERVER_HISTOGRAM, "Duration of HTTP server requests.", SERVER_LABELS, SERVER, out)
    _histogram(
        CLIENT_HISTOGRAM, "Duration of HTTP client request attempts.", CLIENT_LABELS, CLIENT, out
    )
    _histogram(
        RPC_SERVER_HISTOGRAM,
        "Duration of inbound gRPC calls.",
        RPC_SERVER_LABELS,
        RPC_SERVER,
        out,
        rpc=0,
    )
    _histogram(
        RPC_CLIENT_HISTOGRAM,
        "Duration of outbound gRPC call attempts.",
        RPC_CLIENT_LABELS,
        RPC_CLIENT,
        out,
        rpc=2,
    )
    return "".join(out).encode()
