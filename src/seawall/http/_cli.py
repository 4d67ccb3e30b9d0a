"""``seawall serve MODULE:APP``: run an ASGI app with graceful shutdown (and protect())."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from seawall._errors import ConfigError

__all__ = ["register"]


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"expected MODULE:APP, got {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None


def _run(args: argparse.Namespace) -> int:
    from seawall.http._protect import protect
    from seawall.http._serve import serve

    try:
        app = _load(args.app)
        if args.protect:
            app = protect(app, maximum=args.max_timeout)
        return serve(
            app,
            args.host,
            args.port,
            drain_delay=args.drain_delay,
            shutdown_timeout=args.shutdown_timeout,
            log_level=args.log_level,
        )
    except ConfigError as exc:
        print(f"seawall serve: {exc}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve an ASGI app with graceful shutdown",
        description="Serve MODULE:APP on uvicorn; on SIGTERM fail readiness, drain, exit 0.",
    )
    p.add_argument("app", metavar="MODULE:APP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--drain-delay", type=float, default=None, help="seconds (default 5)")
    p.add_argument("--shutdown-timeout", type=float, default=None, help="seconds (default 25)")
    p.add_argument("--protect", action="store_true", help="wrap the app with seawall.http.protect")
    p.add_argument("--max-timeout", type=float, default=5.0, help="server's maximum budget")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=_run)
