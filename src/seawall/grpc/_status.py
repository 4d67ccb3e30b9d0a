"""gRPC's wire facts for the one classification table in :mod:`seawall._transient`.

What a status code means (retry, stop, the dependency is sick) is a row of that table,
which :func:`seawall.transient` and every circuit breaker read:

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

This module reads what only a gRPC call carries: the server's pushback (gRFC A6,
``grpc-retry-pushback-ms`` trailing metadata) and whose deadline fired, and notes them
on the call's error for the table. A non-negative 32-bit integer of milliseconds is the
delay before the next attempt, in place of the backoff (shorter or longer), still within
the deadline and the attempt limit; a negative or unparseable value means "do not
retry", whatever the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from seawall._pushback import SPENT
from seawall._transient import GRPC_OWN_DEADLINE, GRPC_PUSHBACK, dependency_failed, transient

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


def remember(exc: BaseException, pushback: float | None, own_deadline: bool) -> None:
    """Note on a failed call's error what the attempt knew: pushback and whose deadline."""
    try:
        setattr(exc, GRPC_PUSHBACK, pushback)
        setattr(exc, GRPC_OWN_DEADLINE, own_deadline)
        if pushback is not None and pushback >= 0.0:
            exc.retry_pushback = pushback  # type: ignore[attr-defined]  # Retry's next delay
        elif pushback is not None:  # "do not retry": spent below (seawall._pushback)
            setattr(exc, SPENT, True)
    except AttributeError:  # an error type with __slots__: judged by its code alone
        pass


def retryable(exc: BaseException) -> bool:
    """Whether a failed RPC is worth another attempt: :func:`seawall.transient`'s gRPC rows."""
    return transient(exc)


def breaker_failure(exc: BaseException) -> bool:
    """Whether a failed RPC says the server is sick: the breaker's reading of the same table."""
    return dependency_failed(exc)
