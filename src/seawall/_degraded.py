"""A per-request record of degraded parts, for the ``X-Degraded`` response header.

Kept in core (no HTTP imports) so :func:`seawall.partial` can record into it whatever
edge serves the request; without an open collector, recording is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

__all__ = ["Collector", "mark_degraded"]


class Collector:
    """Where one request's degraded names go: ``names`` is None until one is marked.

    Most answers are whole, so an edge opens a collector without building a set: the
    set is made by the first mark. The opener sets ``names`` (None, or a set it wants
    filled); there is no ``__init__`` so that opening one runs no Python frame, and an
    edge may subclass it (its response wrapper is the collector) to allocate nothing.
    """

    __slots__ = ("names",)

    names: set[str] | None


# Opened per request by the edges (a plain set/reset: hot path). Tasks the request starts
# copy the context, so marks made in them reach the same collector.
_names: ContextVar[Collector | None] = ContextVar("seawall_degraded", default=None)


def mark_degraded(names: Iterable[str]) -> None:
    """Record that the answer being built left out ``names`` (no-op without a collector)."""
    collector = _names.get()
    if collector is not None:
        found = collector.names
        if found is None:
            collector.names = set(names)
        else:
            found.update(names)
