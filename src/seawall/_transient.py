"""Which failures are transient: the one table that retries and breakers both read.

A retry helps only when the same request can succeed a moment later: the connection was
refused or reset, the answer did not come in time, or the server said "not now" (5xx,
408, 429). A request the server judged invalid (any other 4xx) fails the same way every
time; a bad certificate stays bad. Python's HTTP libraries do not share an exception
tree (``requests.ConnectionError`` is not the builtin ``ConnectionError``), so the
libraries users call are recognised by their classes' module and name, without
importing them; :func:`transient`'s docstring has the table, as docs/retries.md does.

An error marked spent (:mod:`seawall._pushback`: a layer below already spent the retries
this failure deserved, or the server said "do not retry") is never retried, whatever its
class: only the layer right above a failing dependency retries.

The first class in an exception's MRO that the table names decides, so a library's
specific class (``requests.SSLError``) wins over its base (``requests.ConnectionError``).
The decision per class is cached: classifying costs one dict lookup for a class seen
before; only status errors read the instance.

A circuit breaker reads the same table for what a failure says about the dependency's
health (:func:`judged`, :func:`dependency_failed`): a ``Rejected`` call or a cancellation
says nothing; an answer with a status the table does not retry (404, 422) means the
dependency is up and answering, so it counts as a success, and so does a 429: the
dependency is up and holding this caller to its quota (retried after ``Retry-After``, but
a tenant over its quota must not open the breaker for every other call to that host);
every other error counts as a failure.
"""

from __future__ import annotations

from seawall._errors import Rejected
from seawall._pushback import spent

__all__ = [
    "GRPC_OWN_DEADLINE",
    "GRPC_PUSHBACK",
    "dependency_failed",
    "judged",
    "transient",
    "transient_status",
]

_TOO_MANY_REQUESTS = 429
_OTHER = 0  # no row names the class: decided by the instance's status, if any
_RETRY = 1
_PERMANENT = 2
_UNWRAP = 3  # urllib3's MaxRetryError: the error that ended its own retries decides
_GRPC = 4  # decided by the status code the call ended with
_REJECTED = 5

# (top-level module, class name) -> decision. Libraries move their exception classes
# between submodules across versions; their top-level package and class names stay.
_TABLE: dict[tuple[str, str], int] = {
    ("builtins", "ConnectionError"): _RETRY,
    ("builtins", "TimeoutError"): _RETRY,
    ("requests", "SSLError"): _PERMANENT,
    ("requests", "ConnectionError"): _RETRY,
    ("requests", "Timeout"): _RETRY,
    ("requests", "ChunkedEncodingError"): _RETRY,
    ("urllib3", "SSLError"): _PERMANENT,
    ("urllib3", "TimeoutError"): _RETRY,
    ("urllib3", "ProtocolError"): _RETRY,
    ("urllib3", "MaxRetryError"): _UNWRAP,
    ("aiohttp", "ClientSSLError"): _PERMANENT,
    ("aiohttp", "ServerFingerprintMismatch"): _PERMANENT,
    ("aiohttp", "ClientConnectionError"): _RETRY,
    ("aiohttp", "ClientPayloadError"): _RETRY,
    ("httpx", "UnsupportedProtocol"): _PERMANENT,
    ("httpx", "LocalProtocolError"): _PERMANENT,
    ("httpx", "TransportError"): _RETRY,
    ("grpc", "RpcError"): _GRPC,
}

_TRANSIENT_STATUS = frozenset({408, 429})

# gRPC status codes, by name (grpcio is not imported). What the table says of each:
#   UNAVAILABLE          retried (the server could not take the call); a breaker failure
#   RESOURCE_EXHAUSTED   retried only with server pushback; not a failure (it answered)
#   DEADLINE_EXCEEDED    retried only when the attempt's own cap fired, not the caller's
#                        deadline; a failure
#   INTERNAL, UNKNOWN,   not retried (the call may have been applied); a failure
#   DATA_LOSS
#   every other code     not retried (the server judged the request); not a failure
# Server pushback (gRFC A6) that forbids retrying overrides every row.
_GRPC_RETRIED = frozenset({"UNAVAILABLE"})
_GRPC_SICK = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN", "DATA_LOSS"})
# What the gRPC client edge notes on a failed call's error, for the rows above: the
# server's pushback in seconds (negative: do not retry; absent: none sent) and whether
# the deadline that fired was the attempt's own cap (False) or the caller's (True).
GRPC_PUSHBACK = "_seawall_pushback"
GRPC_OWN_DEADLINE = "_seawall_own_deadline"
_CACHE_LIMIT = 4096  # exception classes made on the fly must not grow the cache forever
_decisions: dict[type[BaseException], int] = {}


def _decide(cls: type[BaseException]) -> int:
    if issubclass(cls, Rejected):
        return _REJECTED
    for klass in cls.__mro__:
        decision = _TABLE.get((klass.__module__.partition(".")[0], klass.__name__))
        if decision is not None:
            return decision
    return _OTHER


def _decision(cls: type[BaseException]) -> int:
    decision = _decisions.get(cls)
    if decision is None:
        decision = _decide(cls)
        if len(_decisions) >= _CACHE_LIMIT:
            _decisions.clear()
        _decisions[cls] = decision
    return decision


def transient_status(status: int) -> bool:
    """Whether an HTTP status is worth retrying: 5xx, 408 (request timeout), 429 (too many)."""
    return status >= 500 or status in _TRANSIENT_STATUS


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(exc, "status", None)
        if status is None:  # httpx.HTTPStatusError, requests.HTTPError
            status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return None


def _grpc_code(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None)
    if not callable(code):
        return None
    try:
        status = code()
    except Exception:  # an RpcError that is not a finished call has no code to read
        return None
    name = getattr(status, "name", None)
    return name if isinstance(name, str) else None


def _grpc_retried(exc: BaseException) -> bool:
    pushback = getattr(exc, GRPC_PUSHBACK, None)
    if isinstance(pushback, float) and pushback < 0.0:
        return False
    code = _grpc_code(exc)
    if code in _GRPC_RETRIED:
        return True
    if code == "RESOURCE_EXHAUSTED":
        return pushback is not None
    if code == "DEADLINE_EXCEEDED":
        return getattr(exc, GRPC_OWN_DEADLINE, True) is False
    return False


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth retrying: network errors, timeouts, 5xx, 408 and 429.

    4xx other than 408/429 mean "you sent something invalid": retrying changes nothing.
    :class:`~seawall.Rejected` is never transient: a policy refused on purpose. Each
    library's classes are recognised by module and name, without importing it:

    ``builtins``
        retried: ``ConnectionError`` (refused, reset, aborted, broken pipe),
        ``TimeoutError`` (also ``socket.timeout``, ``asyncio.TimeoutError``).
    ``requests``
        retried: ``ConnectionError`` (also ``ConnectTimeout``), ``Timeout``
        (``ReadTimeout``), ``ChunkedEncodingError``; not: ``SSLError``; ``HTTPError`` by
        its response's status.
    ``urllib3``
        retried: ``TimeoutError`` (``ConnectTimeoutError``, ``NewConnectionError``,
        ``NameResolutionError``, ``ReadTimeoutError``), ``ProtocolError`` (connection
        aborted); not: ``SSLError``; ``MaxRetryError`` is judged by its ``.reason``.
    ``aiohttp``
        retried: ``ClientConnectionError`` (``ClientConnectorError``, ``ClientOSError``,
        ``ServerDisconnectedError``, ``ServerTimeoutError``), ``ClientPayloadError``;
        not: ``ClientSSLError``, ``ServerFingerprintMismatch``; ``ClientResponseError``
        (and ``ContentTypeError``, ``TooManyRedirects``, ``WSServerHandshakeError``) by
        its ``.status``.
    ``httpx``
        retried: ``TransportError`` (``ConnectError``, ``ReadTimeout``,
        ``RemoteProtocolError``, ...); not: ``UnsupportedProtocol``,
        ``LocalProtocolError``; ``HTTPStatusError`` by its response's status.
    ``grpc``
        retried: ``RpcError`` whose ``.code()`` is ``UNAVAILABLE``; ``RESOURCE_EXHAUSTED``
        when the server sent retry pushback; ``DEADLINE_EXCEEDED`` when the attempt's own
        cap fired rather than the caller's deadline (the gRPC client edge notes both);
        not: other codes, nor any call whose pushback said not to retry.
    any library
        a status of 5xx, 408 or 429, read from ``status_code``, ``status`` or
        ``response.status_code``; not: any other status, nor an error without one.
    spent failures
        never retried: an error a seawall edge marked spent (its retries were refused
        below, or its answer said "do not retry": ``X-Request-Retry: no``,
        ``x-envoy-overloaded``; see :mod:`seawall._pushback`), whatever its class.

    The first class in the exception's MRO that a row names decides, so
    ``requests.exceptions.SSLError`` is not retried although it is a
    ``requests.ConnectionError``.
    """
    decision = _decisions.get(type(exc))  # inlined: this runs on every failure
    if decision is None:
        decision = _decision(type(exc))
    if decision == _RETRY:
        return not spent(exc)
    if decision == _OTHER:
        status = _status_of(exc)
        return status is not None and transient_status(status) and not spent(exc)
    if decision == _UNWRAP:
        reason = getattr(exc, "reason", None)
        return isinstance(reason, BaseException) and transient(reason)
    if decision == _GRPC:
        return _grpc_retried(exc)
    return False


def judged(exc: BaseException) -> bool:
    """Whether ``exc`` says anything about the dependency's health.

    A cancellation (not an ``Exception``) and a :class:`~seawall.Rejected` call (a full
    bulkhead, an open breaker, a shed request: the dependency was never asked) do not.
    """
    return isinstance(exc, Exception) and _decision(type(exc)) != _REJECTED


def dependency_failed(exc: BaseException) -> bool:
    """Whether a judged error counts as the dependency failing.

    Every error does, except an answer whose status the table does not retry (a 404 or a
    422 means the dependency is up and answering, and the caller sent something wrong)
    and a 429 (the dependency is up and rate limiting this caller). For gRPC, the codes
    that say the server is sick do (see the table above :data:`GRPC_PUSHBACK`);
    ``RESOURCE_EXHAUSTED``, ``INVALID_ARGUMENT``, ``NOT_FOUND`` and the like are answers.
    """
    decision = _decision(type(exc))
    if decision == _GRPC:
        code = _grpc_code(exc)
        return code is None or code in _GRPC_SICK
    if decision != _OTHER:
        return True
    status = _status_of(exc)
    return status is None or (transient_status(status) and status != _TOO_MANY_REQUESTS)
