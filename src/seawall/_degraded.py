"""A per-request record of degraded parts, for the ``X-Degraded`` response header.

Kept in core (no HTTP imports) so :func:`seawall.partial` can record into it whatever
edge serves the request; without an open collector, recording is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

__all__ = ["mark_degraded"]

# Opened per request by the seawall.http edge (a plain set/reset: hot path).
_names: ContextVar[set[str] | None] = ContextVar("seawall_degraded", default=None)


def mark_degraded(names: Iterable[str]) -> None:
    """Record that the answer being built left out ``names`` (no-op without a collector)."""
    collector = _names.get()
    if collector is not None:
        collector.update(names)
