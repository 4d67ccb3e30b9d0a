"""Idempotency stores: where :class:`~seawall.http.IdempotencyMiddleware` keeps records.

* :class:`MemoryStore` — in this process (tests, single-process apps);
* :class:`SQLiteStore` — the embedded default: one WAL-mode file that survives a restart
  and is shared by the processes of one host;
* :class:`RedisStore` — shared by many replicas (extra ``seawall[redis]``).

Rate limiters keep their per-key state in :class:`MemoryRateLimitStore` (this process)
or :class:`RedisRateLimitStore` (one quota shared by every replica).

Any object with the three async methods of :class:`IdempotencyStore` works too. The
memory and SQLite stores also have the sync forms of :class:`SyncIdempotencyStore`, which
the WSGI edge (:func:`seawall.wsgi.protect`) calls on its request threads.
"""

from seawall.stores._base import (
    Claim,
    ClaimStatus,
    IdempotencyStore,
    RecordKey,
    StoredResponse,
    SyncIdempotencyStore,
)
from seawall.stores._memory import MemoryStore
from seawall.stores._quota import MemoryRateLimitStore, RateLimitStore
from seawall.stores._redis import RedisStore
from seawall.stores._redis_quota import RedisRateLimitStore
from seawall.stores._sqlite import SQLiteStore

__all__ = [
    "Claim",
    "ClaimStatus",
    "IdempotencyStore",
    "MemoryRateLimitStore",
    "MemoryStore",
    "RateLimitStore",
    "RecordKey",
    "RedisRateLimitStore",
    "RedisStore",
    "SQLiteStore",
    "StoredResponse",
    "SyncIdempotencyStore",
]
