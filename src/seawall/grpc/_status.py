"""What a gRPC status code says: retry, stop, or the dependency is sick.

The client's retries and its breaker read this one table:

=======================  ==========================================  ==================
status                   retried                                     breaker failure
=======================  ==========================================  ==================
``UNAVAILABLE``          yes (the server could not take the call)    yes
``RESOURCE_EXHAUSTED``   only when the server sent a retry pushback  no (it answered)
``DEADLINE_EXCEEDED``    only when the attempt's own cap fired, not  yes
                         the caller's deadline
``INTERNAL``,            no: the call may have been applied          yes
``UNKNOWN``, ``DATA_LOSS``
every other code         no: the server judged the request           no
=======================  ==========================================  ==================

Server pushback (gRFC A6, ``grpc-retry-pushback-ms`` trailing metadata): a non-negative
32-bit integer of milliseconds is the delay before the next attempt, in place of the
backoff (shorter or longer), still within the deadline and the attempt limit; a negative
or unparseable value means "do not retry", whatever the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc

__all__ = [
    "PUSHBACK_KEY",
    "STOP",
    "breaker_failure",
    "parse_pushback",
    "remember",
    "retryable",
]

PUSHBACK_KEY = "grpc-retry-pushback-ms"
_INT32_MAX = 2**31 - 1  # gRFC A6: an ASCII signed 32-bit integer

# A pushback that forbids retrying (negative or garbage), as opposed to None (absent).
STOP = -1.0

_SICK = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)

# Set on a failed call's error by the client attempt, read by the predicates below.
_PUSHBACK_ATTR = "_seawall_pushback"
_OWN_DEADLINE_ATTR = "_seawall_own_deadline"


def parse_pushback(metadata: Iterable[Any] | None) -> float | None:
    """Seconds of server pushback in ``metadata``; :data:`STOP` if it forbids a retry.

    ``None`` when the server sent none. Per gRFC A6, a value that is not a non-negative
    decimal 32-bit integer of milliseconds means "do not retry".
    """
    if not metadata:
        return None
    for item in metadata:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(key, str) or key.lower() != PUSHBACK_KEY:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        text = text.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > _INT32_MAX:
            return STOP
        return int(text) / 1000.0
    return None


def _code(exc: BaseException) -> grpc.StatusCode | None:
    code = getattr(exc, "code", None)
    if not callable(code):
        return None
    try:
        status = code()
    except Exception:  # an RpcError that is not a finished call has no code to read
        return None
    return status if isinstance(status, grpc.StatusCode) else None


def remember(exc: BaseException, pushback: float | None, own_deadline: bool) -> None:
    """Note on a failed call's error what the attempt knew: pushback and whose deadline."""
    try:
        setattr(exc, _PUSHBACK_ATTR, pushback)
        setattr(exc, _OWN_DEADLINE_ATTR, own_deadline)
        if pushback is not None and pushback >= 0.0:
            exc.retry_pushback = pushback  # type: ignore[attr-defined]  # Retry's next delay
    except AttributeError:  # an error type with __slots__: judged by its code alone
        pass


def retryable(exc: BaseException) -> bool:
    """Whether a failed RPC is worth another attempt (the table in the module docstring)."""
    code = _code(exc)
    if code is None:
        # Not an RPC's error: Retry has already refused Rejected and the caller's deadline.
        return isinstance(exc, (ConnectionError, TimeoutError))
    pushback = getattr(exc, _PUSHBACK_ATTR, None)
    if pushback is not None and pushback < 0.0:
        return False
    if code is grpc.StatusCode.UNAVAILABLE:
        return True
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return pushback is not None
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return getattr(exc, _OWN_DEADLINE_ATTR, True) is False
    return False


def breaker_failure(exc: BaseException) -> bool:
    """Whether a failed RPC says the server is sick (counts against the breaker)."""
    code = _code(exc)
    if code is None:
        return True
    return code in _SICK
