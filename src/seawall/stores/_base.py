"""What an idempotency store keeps, and the one question it answers atomically.

A record is keyed by ``(principal, idempotency key)`` and is either *in flight* (a request
claimed the key and is running; ``token`` names the owner) or *completed* (the response to
replay). Both kinds expire: an in-flight record after the lock TTL, so a key claimed by a
process that crashed becomes usable again; a completed one after the retention TTL.

``claim`` is the only decision, and a store makes it atomically (one lock, one SQLite
write transaction, one Redis script)::

    no record, or it expired     -> claimed (with a fresh token)
    another request fingerprint  -> mismatch                      (HTTP 422)
    in flight                    -> in_flight (retry_after = lock time left)   (HTTP 409)
    completed                    -> completed (the stored response)            (replay)

``complete`` and ``release`` take the token, so a request whose lock expired can neither
overwrite nor delete a claim that a later request now owns.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, runtime_checkable

__all__ = [
    "Claim",
    "ClaimStatus",
    "IdempotencyStore",
    "Record",
    "RecordKey",
    "StoredResponse",
    "SyncIdempotencyStore",
    "decode_headers",
    "encode_headers",
    "judge",
    "new_token",
]

ClaimStatus = Literal["claimed", "in_flight", "completed", "mismatch"]


class RecordKey(NamedTuple):
    """Whose key it is: a record is only ever visible to the principal that made it."""

    principal: str
    key: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The final response of a request: status, headers (ASGI byte pairs) and body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to :meth:`IdempotencyStore.claim`.

    ``token`` is set when ``status == "claimed"``; ``response`` when ``"completed"``;
    ``retry_after`` (seconds until the lock expires) when ``"in_flight"``.
    """

    status: ClaimStatus
    token: str = ""
    response: StoredResponse | None = None
    retry_after: float | None = None


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where idempotency records live. Times are the middleware's clock readings."""

    async def claim(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        """Atomically claim ``key`` for a request with ``fingerprint``, or say why not."""
        ...

    async def complete(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        """Store ``response`` until ``expires_at`` if ``token`` still owns the claim."""
        ...

    async def release(self, key: RecordKey, token: str) -> None:
        """Drop the claim ``token`` owns (nothing to replay), so a retry runs again."""
        ...


@runtime_checkable
class SyncIdempotencyStore(Protocol):
    """The same three operations without an event loop, for thread-based servers (WSGI).

    A store offers both forms over one implementation, so a record written by an ASGI
    edge is read by a WSGI edge and the other way round.
    """

    def claim_sync(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        """As :meth:`IdempotencyStore.claim`, on the calling thread."""
        ...

    def complete_sync(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        """As :meth:`IdempotencyStore.complete`, on the calling thread."""
        ...

    def release_sync(self, key: RecordKey, token: str) -> None:
        """As :meth:`IdempotencyStore.release`, on the calling thread."""
        ...


@dataclass(slots=True)
class Record:
    """A record as the memory and SQLite stores hold it."""

    fingerprint: str
    token: str | None
    response: StoredResponse | None
    expires_at: float


def judge(record: Record | None, fingerprint: str, now: float) -> Claim | None:
    """What an existing record means for a new request; ``None`` when the key is free."""
    if record is None or record.expires_at <= now:
        return None
    if record.fingerprint != fingerprint:
        return Claim("mismatch")
    if record.response is not None:
        return Claim("completed", response=record.response)
    return Claim("in_flight", retry_after=record.expires_at - now)


def new_token() -> str:
    return secrets.token_hex(16)


def encode_headers(headers: tuple[tuple[bytes, bytes], ...]) -> str:
    """Headers as JSON text; latin-1 maps every byte to one character and back."""
    return json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers])


def decode_headers(text: str | bytes) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(text))
