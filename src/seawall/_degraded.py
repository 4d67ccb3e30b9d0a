"""A per-request record of degraded parts, for the ``X-Degraded`` response header.

Kept in core (no HTTP imports) so :func:`seawall.partial` can record into it whatever
edge serves the request; without an open collector, recording is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["collecting", "mark_degraded"]

_names: ContextVar[set[str] | None] = ContextVar("seawall_degraded", default=None)


@contextmanager
def collecting() -> Iterator[set[str]]:
    """Open a collector for this request; yields the (live) set of degraded names."""
    names: set[str] = set()
    token = _names.set(names)
    try:
        yield names
    finally:
        _names.reset(token)


def mark_degraded(names: Iterable[str]) -> None:
    """Record that the answer being built left out ``names`` (no-op without a collector)."""
    collector = _names.get()
    if collector is not None:
        collector.update(names)
