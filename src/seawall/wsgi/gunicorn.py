"""A gunicorn config module for graceful shutdown: ``gunicorn -c python:seawall.wsgi.gunicorn``.

On SIGTERM gunicorn's master closes its listening sockets at once and tells the workers
to stop, so a load balancer that polls ``/readyz`` never sees it fail: it sees refused
connections, and requests it had already routed here are lost. This module changes what
SIGTERM does to the master:

1. readiness fails at once, in every worker (a flag in memory the master shares with the
   workers it forks, read by :func:`seawall.wsgi.protect`'s ``/readyz``);
2. for ``SEAWALL_DRAIN_SECONDS`` (default 5) the server keeps accepting and serving, so
   requests routed before the load balancer noticed still succeed;
3. then gunicorn's own graceful stop runs: listeners close, workers finish the requests
   in flight within ``graceful_timeout`` (here 20 s, from ``SEAWALL_GRACEFUL_SECONDS``)
   and exit.

Keep drain + graceful timeout below the orchestrator's grace period (Kubernetes'
``terminationGracePeriodSeconds``, 30 s by default), or the process is killed mid-drain.
SIGINT and SIGQUIT still stop at once.

To add settings of your own, write a config file that starts with
``from seawall.wsgi.gunicorn import *``; if you define ``when_ready`` yourself, call
:func:`defer_sigterm` from it.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from typing import Any

from seawall._errors import ConfigError
from seawall.wsgi import _drain

__all__ = ["defer_sigterm", "graceful_timeout", "when_ready"]


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a finite number of seconds >= 0, got {raw!r}")
    return value


DRAIN_SECONDS = _seconds("SEAWALL_DRAIN_SECONDS", 5.0)
# gunicorn takes whole seconds here.
graceful_timeout = math.ceil(_seconds("SEAWALL_GRACEFUL_SECONDS", 20.0))

# Mapped here, in the master, so every worker forked later shares it.
_drain.share()


def defer_sigterm(server: Any, drain: float = DRAIN_SECONDS) -> None:
    """Make ``server`` (gunicorn's arbiter) fail readiness on SIGTERM, drain, then stop.

    The master's own SIGTERM handling (close listeners, stop workers gracefully) is
    queued ``drain`` seconds after the signal instead of at once.
    """
    handled = threading.Event()

    def on_sigterm(signum: int, frame: object) -> None:
        if handled.is_set():
            return  # a second SIGTERM changes nothing: the stop is already scheduled
        handled.set()
        _drain.start()
        timer = threading.Timer(drain, server.signal, (signal.SIGTERM, None))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_sigterm)


def when_ready(server: Any) -> None:
    """gunicorn's hook, run in the master once it listens: install the deferred SIGTERM."""
    defer_sigterm(server)
