"""What seawall is doing, for the tools operators already run: OpenTelemetry spans.

Importing ``seawall`` imports nothing from here; this package needs the OpenTelemetry
API (``pip install 'seawall[metrics]'``).
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from seawall.metrics._tracing import install, uninstall

__all__ = ["instrument", "uninstrument"]


def instrument(*, tracer_provider: TracerProvider | None = None) -> None:
    """Turn on seawall's spans, made by ``tracer_provider`` (OpenTelemetry's global one
    by default). See docs/tracing.md for what is traced."""
    install(tracer_provider)


def uninstrument() -> None:
    """Turn seawall's spans off again."""
    uninstall()
