"""OpenTelemetry observable instruments over the same metric table as Prometheus.

Observable (asynchronous) instruments are OpenTelemetry's FunctionCounter: the SDK calls
back when it collects, and the callbacks read one :func:`seawall.snapshot`. Only
``opentelemetry-api`` is needed; whatever SDK or exporter the application configured
receives the values. The names are the Prometheus ones with dots, without ``_total`` (the
unit says ratio or seconds): ``seawall.circuit_breaker.transitions``.

OpenTelemetry's API has no asynchronous histogram, so the HTTP duration histograms are
exposed through Prometheus and the ``/seawall`` snapshot only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from seawall._snapshot import take
from seawall.metrics._families import TABLE, Family, compute

__all__ = ["instrument_meter", "otel_name"]

_COMPOUNDS = (
    "circuit_breaker",
    "load_shedder",
    "rate_limiter",
    "in_flight",
    "failure_rate",
    "attempt_type",
    "losers_cancelled",
    "store_errors",
)
# One snapshot serves every instrument of one collection.
_FRESH_FOR = 0.5


def otel_name(prometheus: str) -> str:
    """``seawall_circuit_breaker_calls_total`` -> ``seawall.circuit_breaker.calls``."""
    name = prometheus.removesuffix("_total").removesuffix("_ratio").removesuffix("_seconds")
    for i, word in enumerate(_COMPOUNDS):
        name = name.replace(word, f"\0{i}\0")
    name = name.replace("_", ".")
    for i, word in enumerate(_COMPOUNDS):
        name = name.replace(f"\0{i}\0", word)
    return name


class _Families:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -_FRESH_FOR
        self._families: dict[str, Family] = {}

    def get(self, metric: str) -> Family | None:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= _FRESH_FOR:
                self._families = {f.spec.name: f for f in compute(take(freeze=False).policies)}
                self._at = now
            return self._families.get(metric)


def _callback(
    families: _Families, metric: str
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    spec = TABLE[metric]
    keys = ("name", "target", *spec.labels)

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        family = families.get(metric)
        if family is None:
            return []
        observations = []
        for key, value in family.samples.items():
            attributes = {k: v for k, v in zip(keys, key, strict=True) if v != ""}
            number: Any = int(value) if spec.type == "counter" else value
            observations.append(Observation(number, attributes))
        return observations

    return observe


def instrument_meter(meter_provider: MeterProvider | None = None) -> None:
    """Create seawall's observable instruments on ``meter_provider`` (the global one if None)."""
    provider = meter_provider or otel_metrics.get_meter_provider()
    meter = provider.get_meter("seawall")
    families = _Families()
    for metric, spec in TABLE.items():
        callbacks = [_callback(families, metric)]
        name = otel_name(metric)
        if spec.type == "counter":
            meter.create_observable_counter(
                name, callbacks=callbacks, unit=spec.unit, description=spec.help
            )
        else:
            meter.create_observable_gauge(
                name, callbacks=callbacks, unit=spec.unit, description=spec.help
            )
