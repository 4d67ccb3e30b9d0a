"""The logical operation a retry loop is working on: its attempt number and idempotency key.

A retried call is one *logical* operation made of several attempts. The HTTP client needs
to tell the server which attempt this is (``X-Request-Attempt``) and that every attempt is
the same operation (``Idempotency-Key``), without the user threading either through. The
Retry policy opens an operation scope on a ContextVar; code below it reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from os import urandom

from seawall._clock import Clock
from seawall._deadline import Deadline

__all__ = [
    "FirstAttempt",
    "Operation",
    "current_attempt",
    "current_operation",
    "idempotency_key",
    "new_key",
]

# The variant digit of an RFC 4122 UUID: its two top bits are 10.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_key() -> str:
    """A fresh random (version 4) UUID as text: a new operation's idempotency key.

    The same 122 random bits as the standard library's ``uuid4``, written straight from
    the hex digits: every retried RPC and POST makes one, and building a ``uuid.UUID``
    object costs more than the randomness it holds.
    """
    h = urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


class Operation:
    """One logical operation: ``attempt`` is 1-based; ``key`` is made on first use.

    ``backoff_from`` is the attempt after which the backoff starts over: a server's
    retry pushback sets it, as gRPC's retry design says. Unset until then (read it with
    a default of 0), so that making an operation, which every retried call does, costs
    no more for it.
    """

    __slots__ = ("_key", "attempt", "backoff_from")
    backoff_from: int

    def __init__(self, key: str | None = None) -> None:
        self.attempt = 1
        self._key = key

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = new_key()
        return self._key


class FirstAttempt(Deadline):
    """An operation at its first attempt, which is also that attempt's deadline scope.

    A call that succeeds at once is the common case: one object serves as both scopes
    for it, so the driver allocates one object per call instead of two. A retry moves on
    to an :class:`Operation` carrying the same ``key`` (made here, if anyone asked).
    """

    __slots__ = ("_key", "attempt", "backoff_from")
    backoff_from: int  # as on Operation: unset until a server's pushback sets it

    def __init__(self, when: float, clock: Clock, timeout: float | None) -> None:
        self.when = when
        self.clock = clock
        self.timeout = timeout
        self.attempt = 1
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = new_key()
        return self._key


_current: ContextVar[Operation | FirstAttempt | None] = ContextVar(
    "seawall_operation", default=None
)


def current_operation() -> Operation | FirstAttempt | None:
    return _current.get()


def current_attempt() -> int:
    """The attempt number of the enclosing retried operation (1 outside any retry)."""
    op = _current.get()
    return 1 if op is None else op.attempt


def idempotency_key() -> str:
    """The idempotency key of the current logical operation.

    Inside a :class:`~seawall.Retry` every attempt of one call gets the same key, so a
    server that dedupes on it applies the operation once however many attempts reach it.
    Outside a retry each call returns a fresh key (each call is its own operation).
    """
    op = _current.get()
    if op is None:
        return new_key()
    return op.key
