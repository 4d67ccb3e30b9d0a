"""``protect(app)``: every seawall server edge around an ASGI app, in the right order.

The steps, first to last, and why (see :mod:`seawall.http._edge`, which runs them all in
one ASGI callable):

    health        probes answer first: never shed, never queued, no deadline
    deadline      the budget starts counting before any queueing below
    shedding      cheap refusal before any work (or any idempotency record)
    idempotency   replays and conflicts before the handler; stores what it said
    degraded      inside idempotency, so a replayed answer keeps X-Degraded
    app

Each step is also usable alone (``DeadlineMiddleware`` and friends). ``protect`` returns
a :class:`Protected` app whose ``health`` and ``shedder`` are reachable
(``seawall.http.serve`` drains through ``health``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seawall._clock import Clock
from seawall.http._asgi import ASGIApp
from seawall.http._degraded import DegradedMiddleware
from seawall.http._edge import Edge
from seawall.http._health import Health, probe_paths
from seawall.http._shedding import PROBE_PATHS, Priorities, RouteRules
from seawall.policies._shedder import LoadShedder

__all__ = ["Protected", "protect"]


class Protected(Edge):
    """An ASGI app wrapped by :func:`protect`; exposes its ``health`` and ``shedder``.

    ``inner`` is the app that was protected.
    """

    health: Health

    @property
    def inner(self) -> ASGIApp:
        return self.app


def protect(
    app: ASGIApp,
    *,
    maximum: float = 5.0,
    shedder: LoadShedder | bool = True,
    routes: RouteRules | None = None,
    default_priority: str = "normal",
    idempotency: bool | Any = True,
    require_idempotency: tuple[str, ...] | Callable[[str, str], bool] = (),
    health: Health | None = None,
    clock: Clock | None = None,
) -> Protected:
    """Wrap ``app`` with health probes, deadlines, load shedding, idempotency, X-Degraded.

    ``shedder``: a :class:`~seawall.LoadShedder`, ``True`` for a default one (fixed limit
    of 100 in flight) or ``False`` for none. ``idempotency``: ``True`` (a
    :class:`~seawall.stores.MemoryStore`; pass a ``SQLiteStore`` or ``RedisStore`` for
    durability or many replicas), a store instance, or ``False``.
    """
    health = health or Health(started=True)
    load_shedder: LoadShedder | None = None
    if shedder is not False:
        load_shedder = LoadShedder("http", clock=clock) if shedder is True else shedder
    keyed = None
    if idempotency is not False:
        from seawall.http._idempotency import IdempotencyMiddleware

        store = None if idempotency is True else idempotency
        # Not our clock: stored records outlive the process, so they keep wall-clock time.
        keyed = IdempotencyMiddleware(
            DegradedMiddleware(app), store=store, require=require_idempotency
        )
    return Protected(
        app,
        health=health,
        probes=probe_paths(),
        maximum=maximum,
        clock=clock,
        shedder=load_shedder,
        priorities=(Priorities(routes, default_priority) if load_shedder is not None else None),
        unshed=PROBE_PATHS,
        keyed=keyed,
        methods=keyed.methods if keyed is not None else frozenset(),
        requires_key=keyed.required if keyed is not None else None,
        degraded_header=b"x-degraded",
    )
