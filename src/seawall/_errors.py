"""The seawall error tree.

::

    SeawallError
    ├── Rejected                  the call was refused before it ran; retry_after says when to try
    │   ├── CircuitOpen           a circuit breaker is open (or half-open and out of probes)
    │   ├── BulkheadFull          a bulkhead has no free slot and no queue room, or the wait ran out
    │   ├── LoadShed              a load shedder refused the call's priority
    │   └── RateLimited           a rate limiter's key is over its quota
    ├── DeadlineExceeded          the deadline passed (also a builtin TimeoutError)
    └── ConfigError               a policy or header value is invalid (also a ValueError)
        └── HeaderError           a wire header is malformed

Retry never retries :class:`Rejected`, nor a :class:`DeadlineExceeded` of its caller's
deadline: both mean "trying again now cannot help". A bulkhead rejection is not a breaker
failure: a full bulkhead says nothing about the dependency's health.
"""

from __future__ import annotations

__all__ = [
    "BulkheadFull",
    "CircuitOpen",
    "ConfigError",
    "DeadlineExceeded",
    "HeaderError",
    "LoadShed",
    "RateLimited",
    "Rejected",
    "SeawallError",
]


class SeawallError(Exception):
    """Base of every error seawall raises itself."""


class Rejected(SeawallError):
    """A policy refused the call before it ran.

    ``policy`` names the kind of policy ("circuit_breaker", "bulkhead", "load_shedder"),
    ``name`` the instance, and ``retry_after`` the seconds after which trying again may
    succeed (``None`` when unknown).
    """

    policy: str = "policy"

    def __init__(self, name: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after


class CircuitOpen(Rejected):
    """The circuit breaker ``name`` is open; it will let probes through after ``retry_after``."""

    policy = "circuit_breaker"


class BulkheadFull(Rejected):
    """The bulkhead ``name`` has no free slot and could not queue the call in time."""

    policy = "bulkhead"


class LoadShed(Rejected):
    """The load shedder ``name`` refused a call of ``priority`` to protect higher priorities."""

    policy = "load_shedder"

    def __init__(
        self, name: str, message: str, *, priority: str, retry_after: float | None = None
    ) -> None:
        super().__init__(name, message, retry_after=retry_after)
        self.priority = priority


class RateLimited(Rejected):
    """The rate limiter ``name`` refused ``key``: it used its quota; ``retry_after`` says when
    one more unit is available. ``remaining`` is the whole units still available at once
    (0 for a request of one unit) and ``reset`` the seconds until the full burst is back.
    """

    policy = "rate_limiter"

    def __init__(
        self,
        name: str,
        message: str,
        *,
        key: str,
        retry_after: float,
        remaining: int = 0,
        reset: float = 0.0,
    ) -> None:
        super().__init__(name, message, retry_after=retry_after)
        self.key = key
        self.remaining = remaining
        self.reset = reset


class DeadlineExceeded(SeawallError, TimeoutError):
    """The deadline of a scope passed before the work finished.

    ``timeout`` is the budget in seconds the scope had when it opened, if known.
    """

    def __init__(self, message: str = "deadline exceeded", *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout
        # The deadline scope that ran out; Retry uses it to tell an attempt timeout
        # (inner scope, worth retrying) from its caller's deadline (never retried).
        self.scope: object | None = None


class ConfigError(SeawallError, ValueError):
    """A policy parameter, file or value is invalid; the message says which and why."""


class HeaderError(ConfigError):
    """A wire header (timeout, priority, idempotency key) is malformed."""

    def __init__(self, header: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {header} header {value!r}: {reason}")
        self.header = header
        self.value = value
        self.reason = reason
