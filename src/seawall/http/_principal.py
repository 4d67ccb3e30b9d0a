"""Whose Idempotency-Key it is: the principal a stored response belongs to.

Records are keyed by principal and key, so one caller never receives another's stored
response, nor a 409 or 422 that reveals another's key. The principal must name the
*authenticated caller* and nothing that changes between a request and its retry: the
``Authorization`` header and the session cookie do; analytics and CSRF cookies do not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from seawall._errors import ConfigError
from seawall.http._asgi import Scope, header_values

__all__ = [
    "DEFAULT_SESSION_COOKIES",
    "Principal",
    "principal_of",
    "session_cookie_names",
    "session_principal",
]

Principal = Callable[[Scope], str | Awaitable[str]]

# Cookies that name a logged-in session in the common web frameworks: Flask and Starlette
# (session), Django (sessionid), Java servlets (JSESSIONID), Express (connect.sid), Rails'
# session stores (_session_id), PHP and Symfony (PHPSESSID), ASP.NET and ASP.NET Core,
# Laravel, CodeIgniter, Koa, Sails, oauth2-proxy, NextAuth/Auth.js and FastAPI Users.
# Only these count: analytics and CSRF cookies change between a request and its retry,
# and a principal that changed would make the retry miss its replay and run twice.
DEFAULT_SESSION_COOKIES: tuple[str, ...] = (
    "session",
    "sessionid",
    "JSESSIONID",
    "connect.sid",
    "_session_id",
    "PHPSESSID",
    "ASP.NET_SessionId",
    ".AspNetCore.Session",
    ".AspNetCore.Cookies",
    ".ASPXAUTH",
    "laravel_session",
    "ci_session",
    "koa.sess",
    "sails.sid",
    "_oauth2_proxy",
    "next-auth.session-token",
    "__Secure-next-auth.session-token",
    "authjs.session-token",
    "__Secure-authjs.session-token",
    "fastapiusersauth",
)

# RFC 6265 cookie-name: an RFC 7230 token.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def session_cookie_names(names: object) -> tuple[str, ...]:
    """``names`` as a tuple of cookie names, or :class:`ConfigError`.

    A bare string is refused: ``session_cookies="sid"`` would otherwise mean the cookies
    ``s``, ``i`` and ``d``.
    """
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        raise ConfigError(
            f"session_cookies must be a tuple of cookie names, got {names!r}"
            + (f" (write ({names!r},) for one name)" if isinstance(names, str) else "")
        )
    out = tuple(names)
    for name in out:
        if not isinstance(name, str) or not name or not set(name) <= _TOKEN:
            raise ConfigError(f"session_cookies holds {name!r}, which is not a cookie name")
    return out


def session_principal(session_cookies: Iterable[str] = DEFAULT_SESSION_COOKIES) -> Principal:
    """A principal from the ``Authorization`` header and the named session cookies.

    The principal is the SHA-256 of every ``Authorization`` value and of every cookie in
    ``session_cookies`` (name and value; the order the browser sends them in does not
    matter). Other cookies are ignored, so a retry that carries a refreshed analytics or
    CSRF cookie still finds its replay. A request with neither is anonymous: all such
    requests share one principal.
    """
    wanted = frozenset(session_cookie_names(session_cookies))

    def principal(scope: Scope) -> str:
        return principal_of(
            header_values(scope, b"authorization"), header_values(scope, b"cookie"), wanted
        )

    return principal


def principal_of(
    authorizations: Iterable[bytes], cookies: Iterable[bytes], wanted: frozenset[str]
) -> str:
    """The session principal from the request's ``Authorization`` and ``Cookie`` values.

    Transport-neutral, so the ASGI and WSGI edges name the same caller the same way and
    can share one idempotency store.
    """
    digest = hashlib.sha256()
    for credentials in authorizations:
        _part(digest, b"authorization")
        _part(digest, credentials)
    found: list[tuple[str, str]] = []
    if wanted:
        for header in cookies:
            for pair in header.decode("latin-1").split(";"):
                name, eq, value = pair.partition("=")
                name = name.strip()
                if eq and name in wanted:
                    found.append((name, value.strip()))
    found.sort(key=lambda cookie: cookie[0])  # stable: same-name cookies keep order
    for name, value in found:
        _part(digest, b"cookie")
        _part(digest, name.encode("latin-1"))
        _part(digest, value.encode("latin-1"))
    return digest.hexdigest()


def _part(digest: Any, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)
