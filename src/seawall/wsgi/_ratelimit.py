"""The rate-limit step of the WSGI edge: the ASGI edge's quota per caller, on threads.

Same place in the order (right after the probes: never shed-counted, never stored for
replay), same fields, same default caller (the hashed ``Authorization`` header, else
``REMOTE_ADDR``), so a WSGI and an ASGI service on one Redis store share one quota.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from seawall._errors import ConfigError, RateLimited
from seawall._quota_fields import (
    limit_field,
    policy_field,
    seconds_until_more,
)
from seawall.http._asgi import problem
from seawall.http._principal import principal_of
from seawall.http._ratelimit import check_rate_limit
from seawall.policies._gcra import Verdict
from seawall.policies._ratelimit import RateLimiter
from seawall.wsgi._reply import Environ, ExcInfo, Headers, StartResponse, answer

__all__ = ["WSGIRateLimit", "WSGIRateLimitKey", "caller_key"]

WSGIRateLimitKey = Callable[[Environ], str]


def caller_key(environ: Environ) -> str:
    """Who is calling: the hashed ``Authorization`` header, else the client's address."""
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization:
        return "auth:" + principal_of([authorization.encode("latin-1")], (), frozenset())
    return f"addr:{environ.get('REMOTE_ADDR') or 'unknown'}"


class WSGIRateLimit:
    """Take one unit of the caller's quota: a 429 answer, or the ``start_response`` to use."""

    def __init__(self, limiter: RateLimiter, key: WSGIRateLimitKey | None = None) -> None:
        check_rate_limit(limiter, key, "environ")
        self.limiter = limiter
        self._key = key or caller_key
        self._policy = ("RateLimit-Policy", policy_field(limiter.name, limiter.quota).decode())

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> tuple[Iterable[bytes] | None, StartResponse]:
        key = self._key(environ)
        if not isinstance(key, str):
            raise ConfigError(f"rate_limit_key returned {key!r}, not a string")
        limiter = self.limiter
        try:
            verdict = limiter.acquire(key)
        except RateLimited as exc:
            refused = Verdict(False, exc.remaining, exc.retry_after or 1.0, exc.reset)
            headers, body = problem(
                429,
                "Too many requests",
                f"the quota of {limiter.rate:g} requests/s of {limiter.name!r} is used up; "
                f"retry after {refused.retry_after:.3f}s",
                retry_after=seconds_until_more(refused, limiter.quota),
                headers=[
                    (b"ratelimit-policy", self._policy[1].encode()),
                    (b"ratelimit", limit_field(limiter.name, refused, limiter.quota)),
                ],
            )
            return answer(start_response, 429, headers, body), start_response
        extra = [
            self._policy,
            ("RateLimit", limit_field(limiter.name, verdict, limiter.quota).decode()),
        ]

        def start(
            status: str, headers: Headers, exc_info: ExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            return start_response(status, [*headers, *extra], exc_info)

        return None, start
