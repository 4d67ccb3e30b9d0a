"""MemoryStore: idempotency records in this process, for tests and single-process apps.

Records vanish with the process and are not shared between replicas; use
:class:`~seawall.stores.SQLiteStore` to survive a restart and
:class:`~seawall.stores.RedisStore` for many replicas.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from seawall._errors import ConfigError
from seawall.stores._base import (
    Claim,
    Record,
    RecordKey,
    StoredResponse,
    judge,
    new_token,
)

__all__ = ["MemoryStore"]

_SWEEP_EVERY = 1024


class MemoryStore:
    """Records in a dict, at most ``max_records`` of them.

    Expired records are swept every 1024 claims. When the store is full of live records
    the oldest is dropped (its key could then run again): size it for the keys of one
    retention period.
    """

    def __init__(self, *, max_records: int = 100_000) -> None:
        if max_records < 1:
            raise ConfigError(f"max_records must be >= 1, got {max_records!r}")
        self.max_records = max_records
        self._records: OrderedDict[RecordKey, Record] = OrderedDict()
        # A threading lock, not an asyncio one: the store may be shared by several event
        # loops, and it is never held across an await.
        self._lock = threading.Lock()
        self._claims = 0

    def __len__(self) -> int:
        return len(self._records)

    async def claim(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        return self.claim_sync(key, fingerprint, now, lock_ttl)

    async def complete(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        return self.complete_sync(key, token, response, now, expires_at)

    async def release(self, key: RecordKey, token: str) -> None:
        self.release_sync(key, token)

    # The sync forms are the implementation: nothing here waits, so both forms are one.

    def claim_sync(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        with self._lock:
            self._claims += 1
            if self._claims % _SWEEP_EVERY == 0:
                self._sweep(now)
            verdict = judge(self._records.get(key), fingerprint, now)
            if verdict is not None:
                return verdict
            token = new_token()
            self._records[key] = Record(fingerprint, token, None, now + lock_ttl)
            self._records.move_to_end(key)
            while len(self._records) > self.max_records:
                self._records.popitem(last=False)
            return Claim("claimed", token=token)

    def complete_sync(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        with self._lock:
            record = self._records.get(key)
            if record is None or record.token != token:
                return False
            record.token = None
            record.response = response
            record.expires_at = expires_at
            return True

    def release_sync(self, key: RecordKey, token: str) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None and record.token == token:
                del self._records[key]

    def purge(self, now: float) -> int:
        """Drop every expired record now; returns how many."""
        with self._lock:
            return self._sweep(now)

    def _sweep(self, now: float) -> int:
        expired = [k for k, r in self._records.items() if r.expires_at <= now]
        for k in expired:
            del self._records[k]
        return len(expired)

    def __repr__(self) -> str:
        return f"MemoryStore(records={len(self._records)}, max_records={self.max_records})"
