"""``serve()``: run an ASGI app on uvicorn with Kubernetes-grade graceful shutdown.

On SIGTERM (or the first Ctrl-C):

1. readiness fails at once (``/readyz`` → 503), so endpoints controllers and load
   balancers stop routing new requests here;
2. the server keeps serving for ``drain_delay`` seconds, because removal from load
   balancers is not instant (default 5 s; use 0 when a preStop hook does the waiting);
3. it stops accepting connections, ends open server-sent-event streams (their clients
   reconnect, to another replica), and lets in-flight requests finish within
   ``shutdown_timeout`` (default 25 s — drain + shutdown stay within Kubernetes' default
   30 s grace period);
4. requests still running then are cut: one not yet answering gets 503, one mid-answer
   is aborted, and one log line says how many;
5. it exits 0 when every request finished, 1 when any was cut — so a supervisor learns
   that work was lost. A second signal exits at once (1 if requests were running).

seawall's own lines (readiness failing, no longer accepting, how many finished or were
cut, exited after how long) go to the logger ``seawall.serve``, printed next to
uvicorn's at the default ``info`` level.

Settings come from arguments, else ``SEAWALL_DRAIN_DELAY`` / ``SEAWALL_SHUTDOWN_TIMEOUT``
(what ``seawall kube lint`` reads to check terminationGracePeriodSeconds).

Hypercorn and granian users: hypercorn's ``shutdown_trigger`` (an awaitable you resolve
after your drain delay) and ``graceful_timeout`` give the same sequence; granian's
``--workers-kill-timeout`` bounds the final phase. In both, fail readiness first
(``Health.start_draining()``) from your SIGTERM handler, then wait, then trigger shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
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
import uvicorn.config

from seawall._errors import ConfigError
from seawall.http._asgi import ASGIApp
from seawall.http._checks import asgi_app
from seawall.http._health import Health, HealthMiddleware
from seawall.http._inflight import InFlight

__all__ = [
    "DEFAULT_DRAIN_DELAY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "EXIT_CUT",
    "EXIT_STARTUP_FAILED",
    "LOG_LEVELS",
    "serve",
]

logger = logging.getLogger("seawall.serve")

DEFAULT_DRAIN_DELAY = 5.0
DEFAULT_SHUTDOWN_TIMEOUT = 25.0
# Exit codes besides 0: requests were cut by the shutdown; the app never started serving
# (uvicorn's own code for a failed start-up).
EXIT_CUT = 1
EXIT_STARTUP_FAILED = 3
LOG_LEVELS = tuple(uvicorn.config.LOG_LEVELS)


def _setting(value: float | None, env: str, default: float) -> float:
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{env.lower()} must be a number of seconds, got {value!r}")
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
    def __init__(
        self,
        config: uvicorn.Config,
        health: Health,
        in_flight: InFlight,
        drain_delay: float,
        shutdown_timeout: float,
    ) -> None:
        super().__init__(config)
        self.health = health
        self.in_flight = in_flight
        self.drain_delay = drain_delay
        self.shutdown_timeout = shutdown_timeout
        self.stop_at: float | None = None
        self.signalled_at: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises the signal after shutdown, which would make the process die
        # "by SIGTERM" instead of exiting with a code that says how the drain went; we
        # handle the signals ourselves.
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
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: Any = None) -> None:
        self.health.start_draining()
        streams = self.in_flight.begin_drain()
        logger.info(
            "no longer accepting connections; %d request(s) in flight, %.1fs to finish%s",
            self.in_flight.running,
            self.shutdown_timeout,
            f"; closed {streams} event stream(s)" if streams else "",
        )
        timer = asyncio.get_running_loop().call_later(self.shutdown_timeout, self._cut)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()
        if self.force_exit:
            self.in_flight.abandon()
        finished = self.in_flight.finished
        if self.in_flight.cut:
            logger.error(
                "shutdown cut %d in-flight request(s) still running after the %.1fs"
                " shutdown timeout; %d finished",
                self.in_flight.cut,
                self.shutdown_timeout,
                finished,
            )
        else:
            logger.info("drained: all %d in-flight request(s) finished", finished)

    def _cut(self) -> None:
        self.in_flight.cut_all()


def _log_config(uvicorn_options: dict[str, Any]) -> Any:
    """uvicorn's logging, plus seawall's shutdown lines through uvicorn's handler."""
    if "log_config" in uvicorn_options:
        return uvicorn_options.pop("log_config")  # the caller's own logging
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["seawall.serve"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


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

    0 when every in-flight request finished within ``shutdown_timeout``; 1
    (``EXIT_CUT``) when the shutdown cut some; 3 when the app failed to start. ``health``
    defaults to the app's own (an app from :func:`protect`); otherwise the app is wrapped
    with the probe endpoints so readiness can fail during the drain. Bad arguments raise
    :class:`~seawall.ConfigError` before anything listens.
    """
    asgi_app(app)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer from 0 to 65535, got {port!r}")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host must be an address or host name, got {host!r}")
    if not isinstance(log_level, str) or log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    if health is not None and not isinstance(health, Health):
        raise ConfigError(f"health must be a seawall.http.Health, got {health!r}")
    drain = _setting(drain_delay, "SEAWALL_DRAIN_DELAY", DEFAULT_DRAIN_DELAY)
    shutdown = _setting(shutdown_timeout, "SEAWALL_SHUTDOWN_TIMEOUT", DEFAULT_SHUTDOWN_TIMEOUT)
    found = health or getattr(app, "health", None)
    if isinstance(found, Health):
        probe_health = found
    else:
        probe_health = Health()
        app = HealthMiddleware(app, health=probe_health)
    in_flight = InFlight(app)
    config = uvicorn.Config(
        in_flight,
        host=host,
        port=port,
        # A backstop only: the server cuts what is left at ``shutdown`` itself.
        timeout_graceful_shutdown=math.ceil(shutdown) + 1,
        log_level=log_level.lower(),
        log_config=_log_config(uvicorn_options),
        **uvicorn_options,
    )
    logger.setLevel(uvicorn.config.LOG_LEVELS[log_level.lower()])
    drop = in_flight.cancellation_filter()
    server_log = logging.getLogger("uvicorn.error")
    server_log.addFilter(drop)
    server = _GracefulServer(config, probe_health, in_flight, drain, shutdown)
    started = time.monotonic()
    try:
        server.run()
    finally:
        server_log.removeFilter(drop)
    if not server.started:
        return EXIT_STARTUP_FAILED
    since = server.signalled_at if server.signalled_at is not None else started
    code = EXIT_CUT if in_flight.cut else 0
    logger.info(
        "exited %.2fs after the signal (%.0fs up), exit code %d",
        time.monotonic() - since,
        time.monotonic() - started,
        code,
    )
    return code
