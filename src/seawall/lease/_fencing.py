"""Fencing: the resource itself refuses writes from a deposed leader.

A lease cannot stop a write that is already on its way: a leader checks
:meth:`~seawall.lease.LeaderElector.is_leader`, is paused (GC, swap, a slow disk), its
lease expires, another leader is elected and writes — and then the paused write lands.
Only the resource can refuse it, so every write carries the writer's fencing token and
the resource keeps the highest token it has seen: a write below it comes from a term
that has been superseded and is rejected with :class:`~seawall.lease.StaleToken`.
Equal tokens are accepted (one term writes many times).

The check and the write happen in one transaction, or a stale write could slip in
between. :class:`SQLiteFencedStore` does both under ``BEGIN IMMEDIATE`` (SQLite's write
lock, which also serialises other processes on the same file); ``docs/lease.md`` shows the
same for PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from seawall.lease._errors import StaleToken

__all__ = ["FencedRecord", "FencedStore", "SQLiteFencedStore"]

Value = str | bytes


@dataclass(frozen=True, slots=True)
class FencedRecord:
    """A stored value and the token of the term that wrote it."""

    key: str
    value: Value
    token: int


@runtime_checkable
class FencedStore(Protocol):
    """A store that rejects writes whose token is below the highest it has seen."""

    resource: str

    def write(self, key: str, value: Value, *, token: int) -> None:
        """Store ``value`` under ``key`` unless ``token`` is stale (raises :class:`StaleToken`)."""
        ...

    def delete(self, key: str, *, token: int) -> None:
        """Delete ``key`` unless ``token`` is stale; a delete is a write."""
        ...

    def read(self, key: str) -> FencedRecord | None:
        """The record under ``key``, or ``None``."""
        ...

    def highest_token(self) -> int:
        """The highest token any accepted write carried (0 before the first)."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seawall_fence (
    resource TEXT PRIMARY KEY,
    token INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seawall_fenced (
    resource TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB,
    token INTEGER NOT NULL,
    PRIMARY KEY (resource, key)
);
"""

# Raise the fence to `token` unless it is already higher; no row changes when it is.
_RAISE_FENCE = """
INSERT INTO seawall_fence (resource, token) VALUES (?, ?)
ON CONFLICT (resource) DO UPDATE SET token = excluded.token
WHERE excluded.token >= seawall_fence.token
"""


class SQLiteFencedStore:
    """A :class:`FencedStore` in SQLite: a file shared by processes, or ``":memory:"``.

    ``resource`` names the fence, so several elections can share one database. Safe to
    use from many threads and processes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        resource: str = "leader",
        timeout: float = 5.0,
    ) -> None:
        self.resource = resource
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._db.executescript(_SCHEMA)

    def write(self, key: str, value: Value, *, token: int) -> None:
        with self._fenced(token):
            self._db.execute(
                "INSERT INTO seawall_fenced (resource, key, value, token) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (resource, key) DO UPDATE "
                "SET value = excluded.value, token = excluded.token",
                (self.resource, key, value, token),
            )

    def delete(self, key: str, *, token: int) -> None:
        with self._fenced(token):
            self._db.execute(
                "DELETE FROM seawall_fenced WHERE resource = ? AND key = ?", (self.resource, key)
            )

    def read(self, key: str) -> FencedRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, token FROM seawall_fenced WHERE resource = ? AND key = ?",
                (self.resource, key),
            ).fetchone()
        return None if row is None else FencedRecord(key, row[0], row[1])

    def records(self) -> list[FencedRecord]:
        """Every record of this resource, by key."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value, token FROM seawall_fenced WHERE resource = ? ORDER BY key",
                (self.resource,),
            ).fetchall()
        return [FencedRecord(k, v, t) for k, v, t in rows]

    def highest_token(self) -> int:
        with self._lock:
            return self._highest()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteFencedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteFencedStore({self.path!r}, resource={self.resource!r})"

    def _highest(self) -> int:
        row = self._db.execute(
            "SELECT token FROM seawall_fence WHERE resource = ?", (self.resource,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def _fenced(self, token: int) -> _Transaction:
        if isinstance(token, bool) or not isinstance(token, int) or token < 0:
            raise TypeError(f"a fencing token is a non-negative int, got {token!r}")
        return _Transaction(self, token)


class _Transaction:
    """``BEGIN IMMEDIATE``; raise the fence or refuse; the caller's write; ``COMMIT``."""

    __slots__ = ("_store", "_token")

    def __init__(self, store: SQLiteFencedStore, token: int) -> None:
        self._store = store
        self._token = token

    def __enter__(self) -> None:
        store = self._store
        store._lock.acquire()
        try:
            store._db.execute("BEGIN IMMEDIATE")
            changed = store._db.execute(_RAISE_FENCE, (store.resource, self._token)).rowcount
            if changed == 0:
                highest = store._highest()
                store._db.execute("ROLLBACK")
                raise StaleToken(store.resource, self._token, highest)
        except BaseException:
            if store._db.in_transaction:
                store._db.execute("ROLLBACK")
            store._lock.release()
            raise

    def __exit__(self, exc_type: object, *rest: object) -> None:
        store = self._store
        try:
            store._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        finally:
            store._lock.release()
