"""Health and graceful shutdown for a grpcio server, by the probe rules.

The ``grpc.health.v1`` Health service answers SERVING for the whole server (``""``) and
each named service while the server runs. On SIGTERM (or SIGINT) :func:`serve`:

1. flips every status to NOT_SERVING at once, so load balancers and Kubernetes'
   gRPC probes stop sending new calls;
2. waits ``drain_delay`` seconds, the time they need to notice, still serving whatever
   arrives;
3. calls ``server.stop(grace)``: no new calls; calls in flight get up to ``grace``
   seconds to finish, then are cancelled; and returns when the server has stopped.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import time
from collections.abc import Iterable

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from seawall import ConfigError

__all__ = ["add_health", "aio_add_health", "aio_serve", "serve"]

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value >= 0.0):
        raise ConfigError(f"{name} must be non-negative and finite, got {value!r}")
    return float(value)


def add_health(server: grpc.Server, services: Iterable[str] = ()) -> health.HealthServicer:
    """Add the Health service to a sync ``server``; ``""`` and ``services`` are SERVING."""
    servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", *services):
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servicer


async def aio_add_health(
    server: grpc.aio.Server, services: Iterable[str] = ()
) -> health.aio.HealthServicer:
    """Add the Health service to a ``grpc.aio`` server; ``""`` and ``services`` are SERVING."""
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", *services):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servicer


def serve(
    server: grpc.Server,
    *,
    health: health.HealthServicer | None = None,
    grace: float = 30.0,
    drain_delay: float = 0.0,
) -> None:
    """Start ``server`` and block until SIGTERM/SIGINT has shut it down gracefully.

    Call it from the main thread (signal handlers live there). ``health`` is the servicer
    from :func:`add_health`; the previous signal handlers are restored on return.
    """
    grace = _seconds("grace", grace)
    drain_delay = _seconds("drain_delay", drain_delay)
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in SIGNALS}
    try:
        server.start()
        while not stopping.wait(0.5):  # a timed wait lets the main thread run handlers
            pass
        if health is not None:
            health.enter_graceful_shutdown()
        time.sleep(drain_delay)
        server.stop(grace).wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def aio_serve(
    server: grpc.aio.Server,
    *,
    health: health.aio.HealthServicer | None = None,
    grace: float = 30.0,
    drain_delay: float = 0.0,
) -> None:
    """The ``grpc.aio`` twin of :func:`serve`: start, await SIGTERM/SIGINT, stop gracefully."""
    grace = _seconds("grace", grace)
    drain_delay = _seconds("drain_delay", drain_delay)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    try:
        await server.start()
        await stopping.wait()
        if health is not None:
            await health.enter_graceful_shutdown()
        await asyncio.sleep(drain_delay)
        await server.stop(grace)
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
