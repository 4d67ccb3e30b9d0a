"""``serve()``: run an ASGI app on uvicorn with Kubernetes-grade graceful shutdown.

On SIGTERM (or the first Ctrl-C):

1. readiness fails at once (``/readyz`` → 503), so endpoints controllers and load
   balancers stop routing new requests here;
2. the server keeps serving for ``drain_delay`` seconds, because removal from load
   balancers is not instant (default 5 s; use 0 when a preStop hook does the waiting);
3. it stops accepting connections and lets in-flight requests finish within
   ``shutdown_timeout`` (default 25 s — drain + shutdown stay within Kubernetes' default
   30 s grace period);
4. it exits 0, logging what it drained. A second signal forces an immediate exit.

Settings come from arguments, else ``SEAWALL_DRAIN_DELAY`` / ``SEAWALL_SHUTDOWN_TIMEOUT``
(what ``seawall kube lint`` reads to check terminationGracePeriodSeconds).

Hypercorn and granian users: hypercorn's ``shutdown_trigger`` (an awaitable you resolve
after your drain delay) and ``graceful_timeout`` give the same sequence; granian's
``--workers-kill-timeout`` bounds the final phase. In both, fail readiness first
(``Health.start_draining()``) from your SIGTERM handler, then wait, then trigger shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Generator
from types import FrameType
from typing import Any

import uvicorn

from seawall._errors import ConfigError
from seawall.http._asgi import ASGIApp
from seawall.http._health import Health, HealthMiddleware

__all__ = ["DEFAULT_DRAIN_DELAY", "DEFAULT_SHUTDOWN_TIMEOUT", "serve"]

logger = logging.getLogger("seawall.http")

DEFAULT_DRAIN_DELAY = 5.0
DEFAULT_SHUTDOWN_TIMEOUT = 25.0


def _setting(value: float | None, env: str, default: float) -> float:
    if value is not None:
        seconds = float(value)
    else:
        raw = os.environ.get(env)
        if raw is None or raw.strip() == "":
            return default
        try:
            seconds = float(raw)
        except ValueError:
            raise ConfigError(f"{env}={raw!r} is not a number of seconds") from None
    if not 0 <= seconds < 3600:
        raise ConfigError(f"{env.lower()} must be within [0, 3600) seconds, got {seconds!r}")
    return seconds


class _GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, health: Health, drain_delay: float) -> None:
        super().__init__(config)
        self.health = health
        self.drain_delay = drain_delay
        self.stop_at: float | None = None
        self.signalled_at: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises the signal after shutdown, which would make the process die
        # "by SIGTERM" instead of exiting 0; we handle the signals ourselves.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.signalled_at is not None:
            logger.warning("second %s: exiting now", signal.Signals(sig).name)
            self.force_exit = True
            self.should_exit = True
            return
        self.signalled_at = time.monotonic()
        self.health.start_draining()
        self.stop_at = self.signalled_at + self.drain_delay
        logger.info(
            "%s: readiness failing; serving for %.1fs more, then draining in-flight requests",
            signal.Signals(sig).name,
            self.drain_delay,
        )

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self.health.mark_started()

    async def on_tick(self, counter: int) -> bool:
        if self.stop_at is not None and time.monotonic() >= self.stop_at and not self.should_exit:
            in_flight = len(self.server_state.tasks)
            logger.info("drain delay over: stopping; %d request(s) in flight", in_flight)
            self.should_exit = True
        return await super().on_tick(counter)


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    drain_delay: float | None = None,
    shutdown_timeout: float | None = None,
    health: Health | None = None,
    log_level: str = "info",
    **uvicorn_options: Any,
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT, then shut down gracefully; returns the exit code.

    ``health`` defaults to the app's own (an app from :func:`protect`); otherwise the app is
    wrapped with the probe endpoints so readiness can fail during the drain.
    """
    drain = _setting(drain_delay, "SEAWALL_DRAIN_DELAY", DEFAULT_DRAIN_DELAY)
    shutdown = _setting(shutdown_timeout, "SEAWALL_SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT)
    found = health or getattr(app, "health", None)
    if isinstance(found, Health):
        probe_health = found
    else:
        probe_health = Health()
        app = HealthMiddleware(app, health=probe_health)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        timeout_graceful_shutdown=max(math.ceil(shutdown), 1),
        log_level=log_level,
        **uvicorn_options,
    )
    server = _GracefulServer(config, probe_health, drain)
    started = time.monotonic()
    server.run()
    if server.signalled_at is not None:
        took = time.monotonic() - server.signalled_at
        logger.info("shut down %.2fs after the signal (%.0fs up)", took, time.monotonic() - started)
    return 0
