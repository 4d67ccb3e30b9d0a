"""The rate-limit step of the ASGI edge: a quota per caller, 429 with the draft's fields.

It runs right after the health probes, before deadlines, shedding and idempotency: a
request over its caller's quota is refused before it costs anything, is not counted by
the load shedder (a flooding tenant must not make the shedder refuse everyone else) and
never reaches the idempotency store (a 429 is not an answer to replay). Every response
of a rate-limited route carries ``RateLimit-Policy`` and ``RateLimit``
(:mod:`seawall._quota_fields`); a refusal is ``429`` with ``Retry-After``.

The caller is ``key(scope)``: by default the ``Authorization`` header (hashed, never
stored in clear), else the client's address.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from seawall._errors import ConfigError, RateLimited
from seawall._quota_fields import (
    check_policy_name,
    limit_field,
    policy_field,
    seconds_until_more,
)
from seawall.http._asgi import Message, Scope, Send, header_values, send_problem
from seawall.http._principal import principal_of
from seawall.policies._gcra import Verdict
from seawall.policies._ratelimit import RateLimiter

__all__ = ["RateLimitKey", "RateLimitStep", "caller_key"]

RateLimitKey = Callable[[Scope], str | Awaitable[str]]


def caller_key(scope: Scope) -> str:
    """Who is calling: the hashed ``Authorization`` header, else the client's address."""
    authorizations = header_values(scope, b"authorization")
    if authorizations:
        return "auth:" + principal_of(authorizations, (), frozenset())
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


def check_rate_limit(limiter: object, key: object, request: str) -> None:
    """Refuse, at construction, what an edge's ``rate_limit=`` and ``rate_limit_key=`` got.

    ``request`` names what the key function is given ("scope", "environ", ...).
    """
    if not isinstance(limiter, RateLimiter):
        raise ConfigError(f"rate_limit must be a seawall.RateLimiter, got {limiter!r}")
    if key is not None and not callable(key):
        raise ConfigError(f"rate_limit_key must be a function of the {request}, got {key!r}")
    try:
        check_policy_name(limiter.name)
    except ConfigError as exc:
        raise ConfigError(f"rate_limit: {exc}") from None


class RateLimitStep:
    """Take one unit of the caller's quota; answer 429 or add the fields to the response."""

    def __init__(self, limiter: RateLimiter, key: RateLimitKey | None = None) -> None:
        check_rate_limit(limiter, key, "scope")
        self.limiter = limiter
        self._key = key or caller_key
        self._policy = (b"ratelimit-policy", policy_field(limiter.name, limiter.quota))

    async def __call__(self, scope: Scope, send: Send) -> Send | None:
        """The ``send`` to answer through, or ``None`` when the request got its 429."""
        named = self._key(scope)
        key = await named if inspect.isawaitable(named) else named
        if not isinstance(key, str):
            raise ConfigError(f"rate_limit_key returned {key!r}, not a string")
        limiter = self.limiter
        try:
            verdict = await limiter.aacquire(key)
        except RateLimited as exc:
            refused = Verdict(False, exc.remaining, exc.retry_after or 1.0, exc.reset)
            await send_problem(
                send,
                429,
                "Too many requests",
                f"the quota of {limiter.rate:g} requests/s of {limiter.name!r} is used up; "
                f"retry after {exc.retry_after:.3f}s",
                retry_after=seconds_until_more(refused, limiter.quota),
                headers=[
                    self._policy,
                    (b"ratelimit", limit_field(limiter.name, refused, limiter.quota)),
                ],
            )
            return None
        extra = [self._policy, (b"ratelimit", limit_field(limiter.name, verdict, limiter.quota))]

        def reply(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            return send(message)

        return reply
