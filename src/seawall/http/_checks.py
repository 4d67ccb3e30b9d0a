"""Argument checks for the server edge, run when ``protect()`` or ``serve()`` is called.

A mistake in how a server is put together (a Flask app handed to an ASGI wrapper, a
budget of ``"5"`` or NaN) must stop the process at start-up with a message naming the
argument. Found later, it becomes a 500 on every request while the readiness probe keeps
saying 200, and the load balancer keeps sending traffic to a server that cannot answer.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from seawall._errors import ConfigError
from seawall.http._asgi import ASGIApp

__all__ = ["asgi_app", "positive_seconds"]


def positive_seconds(value: object, what: str) -> float:
    """``value`` as a finite number of seconds above zero, or :class:`ConfigError`.

    Booleans and numeric strings are refused rather than converted: ``True`` as a
    timeout and ``"5"`` from an unparsed config file are bugs, not one and five seconds.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"{what} must be a finite number of seconds above 0, got {value!r}")
    return seconds


def asgi_app(app: Any, what: str = "app") -> ASGIApp:
    """``app`` if it can be called as an ASGI 3 app ``(scope, receive, send)``.

    A WSGI app (Flask, Django's ``WSGIHandler``) is callable too, with ``(environ,
    start_response)``: it would fail on every request, so it is refused here, with the
    adapter to use. A callable whose signature cannot be read (a C extension) is taken on
    trust.
    """
    if not callable(app):
        raise ConfigError(
            f"{what} must be an ASGI app (async callable taking scope, receive, send),"
            f" got {type(app).__name__} {_short(app)}"
        )
    if inspect.isclass(app):
        raise ConfigError(
            f"{what} is the class {app.__name__}, not an ASGI app: pass an instance"
            " (ASGI 2 classes are not supported)"
        )
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return app  # type: ignore[no-any-return]
    try:
        signature.bind(object(), object(), object())
    except TypeError:
        names = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if names == ["environ", "start_response"] or len(names) == 2:
            raise ConfigError(
                f"{what} {_short(app)} is a WSGI app (it takes environ, start_response),"
                " not an ASGI app: wrap it with a2wsgi.WSGIMiddleware or"
                " asgiref.wsgi.WsgiToAsgi"
            ) from None
        raise ConfigError(
            f"{what} {_short(app)} cannot be called as an ASGI app (scope, receive, send):"
            f" its signature is {signature}"
        ) from None
    return app  # type: ignore[no-any-return]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
