"""SQLiteStore: the embedded default — records in one SQLite file that survives a restart.

The database runs in WAL mode (readers never block the writer; a crash cannot corrupt it)
with ``synchronous=NORMAL``: a committed record survives the process crashing; only an OS
crash or power loss can lose the last few commits. A claim is one ``BEGIN IMMEDIATE``
transaction — read the record, decide, write — so it is atomic also between processes
that share the file (several workers on one host). Calls run in a worker thread
(``asyncio.to_thread``) on one connection guarded by a lock, so the event loop never
waits on the disk.

Times are stored as the middleware's clock readings; the default clock is wall-clock
time, which is what makes an expiry written before a restart meaningful after it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time

from seawall._errors import ConfigError
from seawall.stores._base import (
    Claim,
    Record,
    RecordKey,
    StoredResponse,
    decode_headers,
    encode_headers,
    judge,
    new_token,
)

__all__ = ["SQLiteStore"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PURGE_EVERY = 1000

_Row = tuple[str, str | None, int | None, str | None, bytes | None, float]


def _use_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch the database to write-ahead logging, waiting out other processes doing so.

    Several workers opening one new database at once (gunicorn's, say) race to switch
    its journal mode, and SQLite answers the loser "database is locked" at once, without
    its busy handler. Each retries within the busy timeout; once one has switched, the
    mode is persistent and the others find it already set.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SQLiteStore:
    """Idempotency records in the SQLite database at ``path`` (created if missing).

    ``table`` names the table (default ``seawall_idempotency``); ``busy_timeout`` is how
    long a write waits for another process holding the database. Expired records are
    purged every 1000 claims; :meth:`purge` does it on demand. Call :meth:`close` when done.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "seawall_idempotency",
        busy_timeout: float = 5.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ConfigError(f"table must be a plain SQL identifier, got {table!r}")
        self.path = os.fspath(path)
        self.table = table
        self._lock = threading.Lock()
        self._claims = 0
        # isolation_level=None: no implicit transactions; claim opens its own.
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        _use_wal(self._db, busy_timeout)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                principal   TEXT NOT NULL,
                key         TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                token       TEXT,
                status      INTEGER,
                headers     TEXT,
                body        BLOB,
                expires_at  REAL NOT NULL,
                PRIMARY KEY (principal, key)
            )"""
        )
        self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_expiry ON {table} (expires_at)")

    async def claim(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        return await asyncio.to_thread(self.claim_sync, key, fingerprint, now, lock_ttl)

    async def complete(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        return await asyncio.to_thread(self.complete_sync, key, token, response, now, expires_at)

    async def release(self, key: RecordKey, token: str) -> None:
        await asyncio.to_thread(self.release_sync, key, token)

    def purge(self, now: float) -> int:
        """Delete every expired record now; returns how many."""
        with self._lock:
            cursor = self._db.execute(f"DELETE FROM {self.table} WHERE expires_at <= ?", (now,))
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # The sync forms are the implementation; the async ones run them on a worker thread.
    # A WSGI edge calls them on its request thread, with no event loop.

    def claim_sync(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row: _Row | None = db.execute(
                    f"SELECT fingerprint, token, status, headers, body, expires_at"
                    f" FROM {self.table} WHERE principal = ? AND key = ?",
                    key,
                ).fetchone()
                verdict = judge(_record(row), fingerprint, now)
                if verdict is None:
                    token = new_token()
                    db.execute(
                        f"INSERT OR REPLACE INTO {self.table}"
                        " (principal, key, fingerprint, token, expires_at) VALUES (?, ?, ?, ?, ?)",
                        (*key, fingerprint, token, now + lock_ttl),
                    )
                    verdict = Claim("claimed", token=token)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._claims += 1
            if self._claims % _PURGE_EVERY == 0:
                db.execute(f"DELETE FROM {self.table} WHERE expires_at <= ?", (now,))
            return verdict

    def complete_sync(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE {self.table} SET token = NULL, status = ?, headers = ?, body = ?,"
                " expires_at = ? WHERE principal = ? AND key = ? AND token = ?",
                (
                    response.status,
                    encode_headers(response.headers),
                    response.body,
                    expires_at,
                    *key,
                    token,
                ),
            )
            return cursor.rowcount == 1

    def release_sync(self, key: RecordKey, token: str) -> None:
        with self._lock:
            self._db.execute(
                f"DELETE FROM {self.table} WHERE principal = ? AND key = ? AND token = ?",
                (*key, token),
            )

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"


def _record(row: _Row | None) -> Record | None:
    if row is None:
        return None
    fingerprint, token, status, headers, body, expires_at = row
    response = None
    if status is not None:
        response = StoredResponse(status, decode_headers(headers or "[]"), bytes(body or b""))
    return Record(fingerprint, token, response, expires_at)
