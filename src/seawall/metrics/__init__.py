"""Metrics for every named policy and HTTP edge, read at scrape time.

* :func:`register` adds seawall's collector to a prometheus_client registry;
* :func:`instrument` creates OpenTelemetry observable instruments (and, with a tracer
  provider, spans per protected call);
* :func:`snapshot_json` is the ``/seawall`` JSON snapshot ``protect()`` serves;
* :class:`Dashboard` is the live dashboard over those snapshots, one process's or many.

The policies count in plain fields; nothing here runs on the call path. Importing
:mod:`seawall` imports none of this: prometheus_client and opentelemetry-api are the
``seawall[metrics]`` extra, imported when one of these functions is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seawall._errors import ConfigError
from seawall.metrics._dashboard import Dashboard
from seawall.metrics._json import VERSION, snapshot_json

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from seawall.metrics._prometheus import SeawallCollector

__all__ = [
    "VERSION",
    "Dashboard",
    "instrument",
    "prometheus_text",
    "register",
    "snapshot_json",
    "uninstrument",
]


def _missing(package: str, exc: ImportError) -> ConfigError:
    return ConfigError(f"seawall metrics need {package}: pip install 'seawall[metrics]' ({exc})")


def register(registry: CollectorRegistry | None = None) -> SeawallCollector:
    """Add seawall's Prometheus collector to ``registry`` (the default registry if None).

    The collector reads every named policy and the HTTP histograms when Prometheus
    scrapes; registering twice with one registry returns the collector already there.
    """
    try:
        from seawall.metrics._prometheus import register as _register
    except ImportError as exc:
        raise _missing("prometheus-client", exc) from exc
    return _register(registry)


def prometheus_text(registry: CollectorRegistry | None = None) -> bytes:
    """Prometheus text exposition of seawall's series, or of ``registry`` if given.

    seawall writes its own series itself (each series' labels escaped once and cached),
    which needs no metrics library and costs a fraction of a generic exposition; a
    ``registry`` (with :func:`register` called on it) goes through prometheus_client's
    ``generate_latest``.
    """
    if registry is None:
        from seawall.metrics._exposition import render

        return render()
    try:
        from seawall.metrics._prometheus import text
    except ImportError as exc:
        raise _missing("prometheus-client", exc) from exc
    return text(registry)


def instrument(meter_provider: Any = None, tracer_provider: Any = None) -> None:
    """Report seawall to OpenTelemetry: observable instruments, and spans with a tracer.

    ``meter_provider``: where the instruments are created (the global provider if None).
    ``tracer_provider``: when given, each protected call gets a span and each attempt a
    child span; without it no span is ever made.
    """
    try:
        from seawall.metrics._otel import instrument_meter
    except ImportError as exc:
        raise _missing("opentelemetry-api", exc) from exc
    instrument_meter(meter_provider)
    if tracer_provider is not None:
        _install_tracing(tracer_provider)


def _install_tracing(tracer_provider: Any) -> None:
    try:
        from seawall.metrics._tracing import install
    except ImportError as exc:
        raise _missing("opentelemetry-api", exc) from exc
    install(tracer_provider)


def uninstrument() -> None:
    """Turn seawall's spans off again (the observable instruments stay with their meter)."""
    try:
        from seawall.metrics._tracing import uninstall
    except ImportError:
        return  # no OpenTelemetry API: tracing was never turned on
    uninstall()
