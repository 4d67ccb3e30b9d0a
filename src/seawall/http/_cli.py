"""``seawall serve MODULE:APP``: run an ASGI app with graceful shutdown (and protect()).

Like uvicorn, the app is imported with the current directory on ``sys.path`` (or
``--app-dir``). Everything that can be wrong before the first request — a flag value, an
app that cannot be imported or is not an ASGI app — stops the command with one line on
stderr and exit code 2, so a supervisor does not restart a process that can never serve.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import sys
import threading
import traceback
from typing import Any

from seawall._errors import ConfigError

__all__ = ["register"]

_DESCRIPTION = """\
Serve MODULE:APP (an ASGI app) on uvicorn. On SIGTERM or Ctrl-C: /readyz fails at once,
the server keeps serving for --drain-delay seconds, then stops accepting, closes open
server-sent-event streams and gives in-flight requests --shutdown-timeout seconds to
finish. Requests still running then are cut (503 if not yet answering).

exit codes: 0 every in-flight request finished; 1 the shutdown cut requests (one log
line says how many); 2 bad usage, or an app that cannot be imported or is not ASGI;
3 the app failed its start-up (lifespan)."""


def _load(target: str, app_dir: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"expected MODULE:APP, got {target!r}")
    directory = os.path.abspath(app_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(f"cannot import {module_name!r}: no module {exc.name!r}") from None
        raise ConfigError(f"cannot import {module_name!r}: {_where(exc, directory)}") from None
    except BaseException as exc:  # the module's own code failed; say where, in one line
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ConfigError(f"cannot import {module_name!r}: {_where(exc, directory)}") from None
    try:
        value = module
        for part in attr.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from None
    return value


def _where(exc: BaseException, directory: str) -> str:
    """``file:line: Type: message``, at the last frame of the app's own code.

    The line that failed in the user's module says more than the library frame the
    error surfaced in (``json/decoder.py`` for a bad config string).
    """
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen ")
    ]
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if not frames:
        return text
    own = [
        frame for frame in frames if os.path.abspath(frame.filename).startswith(directory + os.sep)
    ]
    last = (own or frames)[-1]
    return f"{os.path.relpath(last.filename)}:{last.lineno}: {text}"


def _seconds(value: str | None, flag: str, *, positive: bool = False) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{flag} must be a number of seconds, got {value!r}") from None
    low_ok = seconds > 0 if positive else seconds >= 0
    if not (low_ok and math.isfinite(seconds)):
        bound = "above 0" if positive else "0 or more"
        raise ConfigError(f"{flag} must be a finite number of seconds, {bound}, got {value!r}")
    return seconds


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"--port must be an integer from 0 to 65535, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be an integer from 0 to 65535, got {value!r}")
    return port


def _protect_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    given = {
        "--max-timeout": args.max_timeout,
        "--principal": args.principal,
        "--session-cookies": args.session_cookies,
        "--idempotency-ttl": args.idempotency_ttl,
        "--idempotency-lock-ttl": args.idempotency_lock_ttl,
    }
    if not args.protect:
        used = [flag for flag, value in given.items() if value is not None]
        if used:
            verb = "applies" if len(used) == 1 else "apply"
            raise ConfigError(f"{', '.join(used)} {verb} only with --protect")
        return options
    options["maximum"] = _seconds(args.max_timeout or "5", "--max-timeout", positive=True)
    if args.principal is not None:
        principal = _load(args.principal, args.app_dir)
        if not callable(principal):
            raise ConfigError(f"--principal {args.principal} is not callable")
        options["principal"] = principal
    if args.session_cookies is not None:
        from seawall.http._principal import session_cookie_names

        names = [name.strip() for name in args.session_cookies.split(",") if name.strip()]
        try:
            options["session_cookies"] = session_cookie_names(names)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("session_cookies", "--session-cookies")) from None
    if args.idempotency_ttl is not None:
        options["ttl"] = _seconds(args.idempotency_ttl, "--idempotency-ttl", positive=True)
    if args.idempotency_lock_ttl is not None:
        options["lock_ttl"] = _seconds(
            args.idempotency_lock_ttl, "--idempotency-lock-ttl", positive=True
        )
    return options


def _run(args: argparse.Namespace) -> int:
    from seawall.http._checks import asgi_app
    from seawall.http._protect import protect
    from seawall.http._serve import LOG_LEVELS, serve

    try:
        port = _port(args.port)
        if args.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(
                f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {args.log_level!r}"
            )
        drain = _seconds(args.drain_delay, "--drain-delay")
        shutdown = _seconds(args.shutdown_timeout, "--shutdown-timeout")
        options = _protect_options(args)
        app = asgi_app(_load(args.app, args.app_dir), args.app)
        if args.protect:
            app = protect(app, **options)
        code = serve(
            app,
            args.host,
            port,
            drain_delay=drain,
            shutdown_timeout=shutdown,
            log_level=args.log_level.lower(),
        )
    except ConfigError as exc:
        print(f"seawall serve: {exc}", file=sys.stderr)
        return 2
    if code != 0:
        _exit_without_cut_threads(code)
    return code


def _exit_without_cut_threads(code: int) -> None:
    """Exit now if threads of cut requests still run, rather than wait for them.

    A cut request of a sync handler (a FastAPI ``def`` route) keeps its worker thread
    running; Python would wait for that thread at exit, past the shutdown timeout that
    the supervisor relies on. Its request was already answered and counted as cut.
    """
    left = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if not left:
        return
    logging.getLogger("seawall.serve").warning(
        "not waiting for %d worker thread(s) of cut requests", len(left)
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve an ASGI app with graceful shutdown",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app", metavar="MODULE:APP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", default="8000", help="0-65535 (default 8000)")
    p.add_argument(
        "--app-dir", default=".", help="directory put first on sys.path (default: current)"
    )
    p.add_argument("--drain-delay", default=None, help="seconds (default 5)")
    p.add_argument("--shutdown-timeout", default=None, help="seconds (default 25)")
    p.add_argument(
        "--log-level", default="info", help="critical, error, warning, info (default), debug"
    )
    p.add_argument("--protect", action="store_true", help="wrap the app with seawall.http.protect")
    p.add_argument(
        "--max-timeout", default=None, help="with --protect: server's maximum budget (default 5)"
    )
    p.add_argument(
        "--principal",
        metavar="MODULE:FUNC",
        default=None,
        help="with --protect: scope -> str naming the caller for idempotent replays",
    )
    p.add_argument(
        "--session-cookies",
        metavar="NAME,...",
        default=None,
        help="with --protect: cookies naming a session (default: the common frameworks')",
    )
    p.add_argument(
        "--idempotency-ttl", default=None, help="with --protect: seconds replayed (default 86400)"
    )
    p.add_argument(
        "--idempotency-lock-ttl",
        default=None,
        help="with --protect: seconds an abandoned claim holds its key (default 60)",
    )
    p.set_defaults(func=_run)
