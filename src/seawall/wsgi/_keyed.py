"""The WSGI edge's idempotency step: the ASGI edge's decisions, on the request thread.

Key parsing, the principal, the fingerprint, what a claim means (replay, 409, 422), which
responses are kept and how a replay is sent are the functions the ASGI middleware uses
(:mod:`seawall.http._idempotency`); the store is called through its sync forms
(:class:`~seawall.stores.SyncIdempotencyStore`), so no event loop runs per request, and a
record written by one edge is replayed by the other.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable

from seawall._errors import HeaderError
from seawall.http._idempotency import (
    STORE_DOWN,
    fingerprint,
    invalid_key,
    kept_headers,
    missing_key,
    read_key,
    refusal,
    replay_headers,
    storable,
    too_large,
)
from seawall.http._principal import principal_of
from seawall.stores._base import RecordKey, StoredResponse, SyncIdempotencyStore
from seawall.wsgi._reply import Environ, WSGIApp, _Held, answer, refuse

__all__ = ["Keyed", "WSGIPrincipal"]

logger = logging.getLogger("seawall.wsgi")

WSGIPrincipal = Callable[[Environ], str]


class Keyed:
    """Idempotency-Key semantics for ``methods`` of a WSGI app, over a sync store."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        store: SyncIdempotencyStore,
        methods: frozenset[str],
        required: Callable[[str, str], bool],
        principal: WSGIPrincipal | None,
        session_cookies: tuple[str, ...],
        ttl: float,
        lock_ttl: float,
        max_body: int = 1 << 20,
    ) -> None:
        self.app = app
        self.store = store
        self.methods = methods
        self.required = required
        self.principal = principal
        self._cookies = frozenset(session_cookies)
        self.ttl = ttl
        self.lock_ttl = lock_ttl
        self.max_body = max_body

    def wants(self, environ: Environ, method: str, path: str) -> bool:
        """Whether this request goes through the idempotency step."""
        return method in self.methods and (
            "HTTP_IDEMPOTENCY_KEY" in environ or self.required(method, path)
        )

    def caller(self, environ: Environ) -> str:
        """The principal: the ASGI edge's rule over the same two headers, or ``principal``."""
        if self.principal is not None:
            who = self.principal(environ)
            if not isinstance(who, str):
                raise TypeError(f"the idempotency principal must return a str, got {who!r}")
            return who
        values = [
            environ[name].encode("latin-1")
            for name in ("HTTP_AUTHORIZATION",)
            if isinstance(environ.get(name), str)
        ]
        cookies = environ.get("HTTP_COOKIE")
        return principal_of(
            values, [cookies.encode("latin-1")] if isinstance(cookies, str) else [], self._cookies
        )

    def __call__(
        self, environ: Environ, method: str, path: str, held: _Held, names: set[str]
    ) -> Iterable[bytes]:
        raw = environ.get("HTTP_IDEMPOTENCY_KEY")
        start = held
        if raw is None:
            return refuse(start, *missing_key(method, path))
        try:
            key = read_key([raw])
        except HeaderError as exc:
            return refuse(start, *invalid_key(exc))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return refuse(start, 400, "Bad Content-Length", "Content-Length is not a number")
        if length < 0:
            return refuse(start, 400, "Bad Content-Length", "Content-Length is negative")
        if length > self.max_body:
            return refuse(start, *too_large(self.max_body))
        body = environ["wsgi.input"].read(length) if length else b""
        record = RecordKey(self.caller(environ), key)
        full_path = (environ.get("SCRIPT_NAME", "") + path).encode("latin-1")
        digest = fingerprint(
            method,
            full_path.decode("utf-8", "surrogateescape"),
            environ.get("QUERY_STRING", "").encode("latin-1"),
            body,
        )
        try:
            claim = self.store.claim_sync(record, digest, time.time(), self.lock_ttl)
        except Exception:
            logger.exception("idempotency store failed to claim a key")
            return refuse(start, *STORE_DOWN, retry_after=1.0)
        if claim.status == "completed":
            assert claim.response is not None
            response = claim.response
            return answer(start, response.status, replay_headers(response), response.body)
        if claim.status != "claimed":
            return refuse(start, *refusal(claim))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        stored = False
        try:
            result = self.app(environ, held)
            try:
                chunks = list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            status = int(held.status.split(" ", 1)[0] or 0)
            content = b"".join(chunks)
            if names:
                held.headers = [*held.headers, ("X-Degraded", ", ".join(sorted(names)))]
                names.clear()  # marked here, so the edge does not mark it twice
            if storable(status) and len(content) <= self.max_body and not held.sent:
                headers = kept_headers(
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in held.headers
                )
                now = time.time()
                response = StoredResponse(status, tuple(headers), content)
                try:
                    stored = self.store.complete_sync(
                        record, claim.token, response, now, now + self.ttl
                    )
                except Exception:
                    logger.exception("idempotency store failed to store a response")
                    stored = True  # the claim stays until lock_ttl; the client is answered
            return [content]
        finally:
            if not stored:
                try:
                    self.store.release_sync(record, claim.token)
                except Exception:
                    logger.exception("idempotency store failed to release a key")
