"""Server edge, idempotency: a retried POST runs once, per the IETF Idempotency-Key draft.

For a request with an ``Idempotency-Key`` (POST and PATCH by default):

* the first request claims the key, runs, and its final response (status, headers minus
  hop-by-hop, body) is stored before the client sees its last byte — so any retry that
  follows a delivered response finds it;
* a later duplicate gets the stored response again, with ``Idempotent-Replayed: true``;
* a duplicate while the first still runs gets **409**; the same key with another request
  (fingerprint of method, path + query and body) gets **422**; a missing key on a route
  that requires one gets **400**, and so does a malformed key;
* keys are scoped by a principal (default: SHA-256 of the ``Authorization`` header and
  the session cookies named in ``session_cookies``), so no client can replay another's
  response, nor learn from a 409 or 422 that another's key exists; records expire after
  ``ttl`` (24 h), and an in-flight claim left by a crashed process after ``lock_ttl``.

Not stored — the claim is released so a retry runs the handler again: 5xx, 408 and 429
(the statuses clients retry), a handler that raised, and a response body larger than
``max_body`` (it streams through unbuffered beyond the bound). A handler that commits a
side effect and then fails must therefore roll the effect back (be transactional), or a
retry repeats it. Request bodies of keyed requests are buffered to fingerprint them;
beyond ``max_body`` they get 413.

If the store cannot be reached the request gets 503 (with ``Retry-After``) rather than
running unprotected.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from seawall._clock import Clock
from seawall._errors import ConfigError, HeaderError
from seawall._events import Event, emit
from seawall.http._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header_values,
    send_problem,
)
from seawall.http._checks import asgi_app, positive_seconds
from seawall.http._principal import (
    DEFAULT_SESSION_COOKIES,
    Principal,
    session_cookie_names,
    session_principal,
)
from seawall.stores._base import Claim, IdempotencyStore, RecordKey, StoredResponse
from seawall.stores._memory import MemoryStore

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "REPLAYED_HEADER",
    "IdempotencyEvent",
    "IdempotencyMiddleware",
    "fingerprint",
    "kept_headers",
    "missing_key",
    "parse_idempotency_key",
    "read_key",
    "refusal",
    "replay_headers",
    "requirement",
    "storable",
]

logger = logging.getLogger("seawall.http")

IDEMPOTENCY_KEY_HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
MAX_KEY_LENGTH = 255

_KEY = IDEMPOTENCY_KEY_HEADER.encode()
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",  # recomputed from the stored body on replay
    }
)
# Statuses a client retries: storing one would replay the failure instead of retrying.
_RETRIED = frozenset({408, 429})

RouteRequirement = Iterable[str] | Callable[[str, str], bool]
Outcome = Literal[
    "replayed",
    "conflict",
    "mismatch",
    "missing_key",
    "invalid_key",
    "too_large",
    "not_stored",
    "store_error",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyEvent(Event):
    """The middleware answered other than by simply running the handler.

    ``outcome`` says how: ``replayed`` (stored response), ``conflict`` (409),
    ``mismatch`` (422), ``missing_key`` / ``invalid_key`` (400), ``too_large`` (413),
    ``not_stored`` (the handler ran but its response was not kept: 5xx, 408, 429, raised,
    or too large) or ``store_error`` (the store failed). ``status`` is the HTTP status sent.
    """

    outcome: Outcome
    status: int


def parse_idempotency_key(value: str) -> str:
    """The key in an ``Idempotency-Key`` value, or :class:`~seawall.HeaderError`.

    The draft makes the value an RFC 8941 sf-string (``"8e03978e-40d5"``, with ``\\"`` and
    ``\\\\`` escapes); a bare token (``8e03978e-40d5``, as Stripe-style clients send) is
    accepted too and names the same key. The key must be 1-255 printable ASCII
    characters. A bare key may not contain spaces, quotes, backslashes or commas (a comma
    is how a proxy joins two header lines); quote such a key.
    """
    for char in value:
        if ord(char) > 0x7F:
            raise HeaderError(IDEMPOTENCY_KEY_HEADER, value, "must be ASCII")
    text = value.strip(" \t")
    for char in text:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise HeaderError(
                IDEMPOTENCY_KEY_HEADER, value, f"contains a control character ({ord(char):#04x})"
            )
    if text.startswith('"'):
        key = _sf_string(value, text)
    elif "," in text:
        raise HeaderError(
            IDEMPOTENCY_KEY_HEADER, value, "holds several keys (a comma joins repeated headers)"
        )
    else:
        for char in ' "\\':
            if char in text:
                raise HeaderError(
                    IDEMPOTENCY_KEY_HEADER,
                    value,
                    f"may not contain {char!r} unquoted; send the key as a quoted string",
                )
        key = text
    if not key:
        raise HeaderError(IDEMPOTENCY_KEY_HEADER, value, "is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise HeaderError(
            IDEMPOTENCY_KEY_HEADER,
            value,
            f"is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed",
        )
    return key


def _sf_string(value: str, text: str) -> str:
    """RFC 8941 section 4.2.5: parse a String, the whole of ``text``."""
    out: list[str] = []
    i = 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 1
            if i == len(text):
                raise HeaderError(IDEMPOTENCY_KEY_HEADER, value, "ends inside an escape")
            if text[i] not in '"\\':
                raise HeaderError(
                    IDEMPOTENCY_KEY_HEADER, value, 'only \\" and \\\\ may be escaped in a string'
                )
            out.append(text[i])
        elif char == '"':
            if i + 1 != len(text):
                raise HeaderError(
                    IDEMPOTENCY_KEY_HEADER, value, "has characters after the closing quote"
                )
            return "".join(out)
        else:
            out.append(char)
        i += 1
    raise HeaderError(IDEMPOTENCY_KEY_HEADER, value, "is missing its closing quote")


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 of method, path, query string and body, each length-prefixed."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8", "surrogateescape"), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# -- the decisions, shared by the ASGI and WSGI edges -----------------------------------

Problem = tuple[int, str, str]
"""A refusal: status, title, detail (the problem+json body's fields)."""

STORE_DOWN: Problem = (
    503,
    "Idempotency store unavailable",
    "the request was not run because its Idempotency-Key could not be checked",
)


def read_key(sent: list[str]) -> str:
    """The key of a request that sent the ``Idempotency-Key`` values ``sent`` (one)."""
    if len(sent) > 1:
        raise HeaderError(IDEMPOTENCY_KEY_HEADER, ", ".join(sent), "was sent more than once")
    return parse_idempotency_key(sent[0])


def missing_key(method: str, path: str) -> Problem:
    return (400, "Idempotency-Key required", f"{method} {path} requires an Idempotency-Key header")


def invalid_key(exc: HeaderError) -> Problem:
    return (400, "Invalid Idempotency-Key", f"Idempotency-Key header {exc.reason}")


def too_large(max_body: int) -> Problem:
    return (
        413,
        "Content too large",
        f"a request with an Idempotency-Key may carry at most {max_body} bytes",
    )


def refusal(claim: Claim) -> Problem:
    """The answer to a claim that is neither claimed nor completed (409 or 422)."""
    if claim.status == "in_flight":
        return (
            409,
            "Request in progress",
            "a request with this Idempotency-Key is still being processed",
        )
    return (
        422,
        "Idempotency-Key reused",
        "this Idempotency-Key was used with a different request (method, path or body)",
    )


def storable(status: int) -> bool:
    """Whether a response with ``status`` is kept: not the statuses a client retries."""
    return status < 500 and status not in _RETRIED


def kept_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response headers a record keeps: lower-cased, without hop-by-hop ones."""
    return [(bytes(k).lower(), bytes(v)) for k, v in headers if bytes(k).lower() not in _HOP_BY_HOP]


def replay_headers(response: StoredResponse) -> list[tuple[bytes, bytes]]:
    """The headers a replay is sent with: the stored ones, its length, and the marker."""
    return [
        *response.headers,
        (b"content-length", str(len(response.body)).encode()),
        (REPLAYED_HEADER.encode(), b"true"),
    ]


def requirement(require: RouteRequirement) -> Callable[[str, str], bool]:
    if callable(require):
        return require
    if isinstance(require, str) or not isinstance(require, Iterable):
        raise ConfigError(f"require= takes a tuple of path prefixes, got {require!r}")
    prefixes = tuple(require)
    for prefix in prefixes:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ConfigError(f"require= takes path prefixes starting with '/', got {prefix!r}")

    def required(method: str, path: str) -> bool:
        for prefix in prefixes:
            base = prefix.rstrip("/")
            if path in (prefix, base) or path.startswith(base + "/"):
                return True
        return False

    return required


@dataclass(slots=True)
class _Capture:
    """The response of a claimed request as it passes through."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    storable: bool = True
    stored: bool = False


class IdempotencyMiddleware:
    """Apply Idempotency-Key semantics to ``methods`` (POST, PATCH) of an ASGI app.

    ``store``: an :class:`~seawall.stores.IdempotencyStore` (default: a new
    :class:`~seawall.stores.MemoryStore`). ``require``: path prefixes, or a function
    ``(method, path) -> bool``, for which a keyed method without a key is a 400.
    ``ttl``: seconds a response is kept (24 h). ``lock_ttl``: seconds before an in-flight
    claim is considered abandoned (60 s; keep it above the slowest handler).
    ``principal``: ``scope -> str`` (or an awaitable of it) naming the caller; records
    are keyed by principal and key, so one caller never sees another's response, 409 or
    422. The default is :func:`session_principal` over ``session_cookies``
    (:data:`DEFAULT_SESSION_COOKIES`): the ``Authorization`` header plus the session
    cookies of the common frameworks. An app that authenticates otherwise (another
    cookie name, an API-key header, mTLS) must pass its cookie names or a ``principal``
    that names the authenticated caller, or all its callers share one principal. A
    principal derived from a token changes when the token is rotated: a retry sent with
    the new token misses its replay and runs again; a ``principal`` returning a stable
    user id (read after your auth has verified the token) avoids that.
    ``max_body``: bytes buffered per request body and per stored response (1 MiB).
    ``clock``: time source for expiry, shared by every process using the store; the
    default is wall-clock time (``time.time``), which survives restarts.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore | None = None,
        methods: Iterable[str] = ("POST", "PATCH"),
        require: RouteRequirement = (),
        ttl: float = 86400.0,
        lock_ttl: float = 60.0,
        principal: Principal | None = None,
        session_cookies: Iterable[str] = DEFAULT_SESSION_COOKIES,
        max_body: int = 1 << 20,
        clock: Clock | None = None,
    ) -> None:
        self.ttl = positive_seconds(ttl, "ttl")
        self.lock_ttl = positive_seconds(lock_ttl, "lock_ttl")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0:
            raise ConfigError(f"max_body must be a number of bytes >= 0, got {max_body!r}")
        if principal is not None and not callable(principal):
            raise ConfigError(f"principal must be a function of the ASGI scope, got {principal!r}")
        if store is not None and not all(
            callable(getattr(store, op, None)) for op in ("claim", "complete", "release")
        ):
            raise ConfigError(f"store must be an IdempotencyStore, got {store!r}")
        if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
            raise ConfigError(f"methods must be a tuple of HTTP methods, got {methods!r}")
        self.app = asgi_app(app)
        self.store: IdempotencyStore = store if store is not None else MemoryStore()
        self.methods = frozenset(m.upper() for m in methods)
        self.required = requirement(require)
        self.session_cookies = session_cookie_names(session_cookies)
        self.principal: Principal = principal or session_principal(self.session_cookies)
        self.max_body = max_body
        self._now: Callable[[], float] = clock.now if clock is not None else time.time

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.methods:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope.get("path", "/")
        sent = [value.decode("latin-1") for value in header_values(scope, _KEY)]
        if not sent:
            if self.required(method, path):
                self._emit("missing_key", 400)
                await send_problem(send, *missing_key(method, path))
                return
            await self.app(scope, receive, send)
            return
        try:
            key = read_key(sent)
        except HeaderError as exc:
            self._emit("invalid_key", 400)
            await send_problem(send, *invalid_key(exc))
            return

        try:
            body = await _read_body(receive, self.max_body)
        except _Disconnected:
            return  # nothing was claimed; the client that could read an answer is gone
        except _TooLarge:
            self._emit("too_large", 413)
            await send_problem(send, *too_large(self.max_body))
            return
        who = self.principal(scope)
        principal = await who if inspect.isawaitable(who) else who
        if not isinstance(principal, str):
            raise TypeError(f"the idempotency principal must return a str, got {principal!r}")
        record = RecordKey(principal, key)
        digest = fingerprint(method, path, scope.get("query_string", b""), body)
        try:
            claim = await self.store.claim(record, digest, self._now(), self.lock_ttl)
        except Exception:
            logger.exception("idempotency store failed to claim a key")
            self._emit("store_error", 503)
            await send_problem(send, *STORE_DOWN, retry_after=1.0)
            return
        if claim.status != "claimed":
            await self._answer(claim, send)
            return
        await self._run(scope, _replaying(body, receive), send, record, claim.token)

    async def _answer(self, claim: Claim, send: Send) -> None:
        if claim.status == "completed":
            assert claim.response is not None
            self._emit("replayed", claim.response.status)
            await _replay(claim.response, send)
        else:
            status, title, detail = refusal(claim)
            self._emit("conflict" if status == 409 else "mismatch", status)
            await send_problem(send, status, title, detail)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, record: RecordKey, token: str
    ) -> None:
        capture = _Capture()

        async def capturing_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                capture.status = int(message["status"])
                capture.headers = kept_headers(message.get("headers", ()))
                capture.storable = storable(capture.status)
            elif kind == "http.response.body":
                chunk = bytes(message.get("body", b""))
                if capture.storable:
                    capture.size += len(chunk)
                    if capture.size > self.max_body:
                        capture.storable = False
                        capture.chunks.clear()
                    else:
                        capture.chunks.append(chunk)
                if capture.storable and not message.get("more_body", False):
                    # Stored before the last byte leaves: a client that saw the whole
                    # response and retries anyway always finds the record.
                    await self._complete(record, token, capture)
            else:
                capture.storable = False  # trailers, pathsend, ...: not replayable
            await send(message)

        try:
            await self.app(scope, receive, capturing_send)
        finally:
            if not capture.stored:
                self._emit("not_stored", capture.status or 500)
                try:
                    await self.store.release(record, token)
                except Exception:
                    logger.exception("idempotency store failed to release a key")

    async def _complete(self, record: RecordKey, token: str, capture: _Capture) -> None:
        response = StoredResponse(capture.status, tuple(capture.headers), b"".join(capture.chunks))
        now = self._now()
        try:
            capture.stored = await self.store.complete(record, token, response, now, now + self.ttl)
        except Exception:
            # The client still gets its answer; the claim stays until lock_ttl.
            logger.exception("idempotency store failed to store a response")
            capture.stored = True  # nothing more to do with this claim
            self._emit("store_error", capture.status)
            return
        if not capture.stored:
            logger.warning("idempotency claim expired before the response was stored")

    def _emit(self, outcome: Outcome, status: int) -> None:
        emit(
            IdempotencyEvent(
                policy="idempotency", name="http", at=self._now(), outcome=outcome, status=status
            )
        )


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, at most ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the buffered body, then the real channel."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _replay(response: StoredResponse, send: Send) -> None:
    headers = replay_headers(response)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
