"""Retry pushback: a failure whose retries were spent below is not retried above.

Retries multiply down a call graph: three layers of three attempts put 27 calls on a dead
leaf for each request. A retry budget caps what one caller adds, but only the layer right
above the failing dependency can tell that it is failing broadly (its budget's failure
reserve runs dry); every layer above sees one failed call at a time, and each would
retry it with its own full reserve. So, as the SRE book's "Handling Overload" chapter
advises ("overloaded; don't retry"), only the layer immediately above the failing one
retries, and every layer above it is told not to:

* a call is *spent* when its :class:`~seawall.RetryBudget` refused its retries, or when
  it failed on an answer that itself said "do not retry". :func:`spend` notes it on the
  error (for a handler that lets it escape) and on the request's context (for a handler
  that catches it and renders its own 5xx);
* a server edge answers a request that failed that way "do not retry": HTTP adds
  ``X-Request-Retry: no`` to its 5xx, gRPC sends ``grpc-retry-pushback-ms: -1`` in the
  trailing metadata (gRFC A6: a negative pushback means do not retry);
* a client edge that receives such an answer notes it on the error it raises, and
  :func:`seawall.transient` does not retry it. Envoy's ``x-envoy-overloaded`` says the
  same on the HTTP side and is read the same way.

A failure that merely ran out of its configured attempts is not spent: with no budget
to say the dependency is failing broadly, the layer above keeps its own judgement.

Nothing here runs on the success path: errors are marked when a retry is refused, the
note on the context is set only then, and an edge reads it only when it answers a 5xx
(or, where one thread serves request after request, to clear it after a request that
recovered).
"""

from __future__ import annotations

from contextlib import suppress
from contextvars import ContextVar
from typing import Any

__all__ = [
    "DEPENDENCY_FAILING",
    "ENVOY_OVERLOADED_HEADER",
    "NO_RETRY",
    "NO_RETRY_FIELD",
    "RETRY_HEADER",
    "SPENT",
    "answered_spent",
    "clear",
    "no_retry_answer",
    "noted",
    "spend",
    "spent",
    "with_no_retry",
]

SPENT = "_seawall_retries_spent"
"""The attribute that marks an error whose retries were spent below: do not retry it."""

RETRY_HEADER = "x-request-retry"
"""The HTTP response header a server sends on a 5xx that must not be retried."""
NO_RETRY = "no"
NO_RETRY_FIELD = (RETRY_HEADER.encode(), NO_RETRY.encode())
"""The header as an ASGI (and raw) byte pair."""
ENVOY_OVERLOADED_HEADER = "x-envoy-overloaded"
DEPENDENCY_FAILING = (
    "Dependency failing",
    "a dependency of this service is failing; retrying this request will not help",
)
"""Title and detail of the 500 an edge answers for a spent error that escaped its handler
(never the error's own text: it may name internal hosts)."""

# The note on the request's context: set only when a call is spent, read (and cleared)
# by the server edge that answers the request.
_spent: ContextVar[bool] = ContextVar("seawall_retries_spent", default=False)


def spend(exc: BaseException) -> None:
    """Mark ``exc`` spent, and the request being served here with it."""
    # An error class with __slots__ and no __dict__ cannot carry it: the context says it.
    with suppress(AttributeError):
        setattr(exc, SPENT, True)
    _spent.set(True)


def spent(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure whose retries were spent below: do not retry it."""
    return getattr(exc, SPENT, False) is True


def answered_spent(error: BaseException | None = None) -> bool:
    """For a server edge about to answer a failure: whether to say "do not retry".

    True when a call made for this request was spent, or when ``error`` (what the handler
    raised, if anything) is. Clears the request's note, so that a thread or task that goes
    on to serve another request starts clean.
    """
    if _spent.get():
        _spent.set(False)
        return True
    return error is not None and spent(error)


noted = _spent.get
"""Whether a call made for the request being served here was spent (one C call)."""


def clear() -> None:
    """Drop the note of a request that recovered from a spent call (a fallback answered).

    Only edges whose threads carry one context from request to request need it; it reads
    the note and sets it only when it was left set.
    """
    if _spent.get():
        _spent.set(False)


def no_retry_answer(headers: Any) -> bool:
    """Whether an HTTP response's headers say "do not retry" (``headers.get`` is case-blind).

    ``X-Request-Retry: no`` is seawall's; ``x-envoy-overloaded`` is Envoy's, which Envoy
    itself never retries.
    """
    value = headers.get(RETRY_HEADER)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str) and value.strip().lower() == NO_RETRY:
        return True
    return headers.get(ENVOY_OVERLOADED_HEADER) is not None


def with_no_retry(start: Any) -> Any:
    """An ASGI ``http.response.start`` message with ``X-Request-Retry: no`` added."""
    return {**start, "headers": [*start.get("headers", ()), NO_RETRY_FIELD]}
