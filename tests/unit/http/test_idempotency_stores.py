"""Store conformance on virtual time: MemoryStore and SQLiteStore answer alike.

(RedisStore runs the same cases against a real redis-server in the integration tests.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seawall.stores import (
    Claim,
    IdempotencyStore,
    MemoryStore,
    RecordKey,
    SQLiteStore,
    StoredResponse,
)

KEY = RecordKey("alice", "k1")
OK = StoredResponse(
    201, ((b"content-type", b"application/json"), (b"x-bin", b"\xff\x00")), b"\x00{}"
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdempotencyStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SQLiteStore(tmp_path / "idempotency.db")
    yield sqlite
    sqlite.close()


def claim(store: IdempotencyStore, now: float, fp: str = "fp", key: RecordKey = KEY) -> Claim:
    return asyncio.run(store.claim(key, fp, now, 60.0))


def complete(store: IdempotencyStore, token: str, now: float, ttl: float = 100.0) -> bool:
    return asyncio.run(store.complete(KEY, token, OK, now, now + ttl))


def test_first_claim_wins_and_a_second_sees_it_in_flight(store: IdempotencyStore) -> None:
    first = claim(store, 0.0)
    assert first.status == "claimed"
    assert first.token
    second = claim(store, 15.0)
    assert second.status == "in_flight"
    assert second.retry_after == 45.0


def test_a_completed_record_is_replayed_byte_for_byte(store: IdempotencyStore) -> None:
    token = claim(store, 0.0).token
    assert complete(store, token, 1.0)
    replay = claim(store, 2.0)
    assert replay.status == "completed"
    assert replay.response == OK


def test_another_fingerprint_is_a_mismatch_in_flight_or_completed(
    store: IdempotencyStore,
) -> None:
    token = claim(store, 0.0).token
    assert claim(store, 1.0, fp="other").status == "mismatch"
    complete(store, token, 1.0)
    assert claim(store, 2.0, fp="other").status == "mismatch"


def test_records_expire_after_their_ttl(store: IdempotencyStore) -> None:
    token = claim(store, 0.0).token
    complete(store, token, 1.0, ttl=100.0)
    assert claim(store, 100.9).status == "completed"
    again = claim(store, 101.0, fp="a new request may now use the key")
    assert again.status == "claimed"


def test_an_abandoned_claim_expires_after_the_lock_ttl(store: IdempotencyStore) -> None:
    crashed = claim(store, 0.0).token  # never completed: its process died
    assert claim(store, 59.9).status == "in_flight"
    fresh = claim(store, 60.0)
    assert fresh.status == "claimed"
    assert fresh.token != crashed
    # The crashed owner, back from the dead, can neither store nor release the new claim.
    assert not complete(store, crashed, 61.0)
    asyncio.run(store.release(KEY, crashed))
    assert claim(store, 62.0).status == "in_flight"
    assert complete(store, fresh.token, 63.0)


def test_release_frees_the_key_for_a_retry(store: IdempotencyStore) -> None:
    token = claim(store, 0.0).token
    asyncio.run(store.release(KEY, token))
    assert claim(store, 1.0).status == "claimed"


def test_keys_of_different_principals_never_meet(store: IdempotencyStore) -> None:
    assert claim(store, 0.0, key=RecordKey("alice", "k")).status == "claimed"
    assert claim(store, 0.0, key=RecordKey("bob", "k")).status == "claimed"
    assert claim(store, 0.0, key=RecordKey("alice:", "k")).status == "claimed"


def test_sqlite_records_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "idempotency.db"
    first = SQLiteStore(path)
    token = asyncio.run(first.claim(KEY, "fp", 0.0, 60.0)).token
    assert asyncio.run(first.complete(KEY, token, OK, 1.0, 101.0))
    first.close()
    second = SQLiteStore(path)
    try:
        replay = asyncio.run(second.claim(KEY, "fp", 2.0, 60.0))
        assert replay.status == "completed"
        assert replay.response == OK
        assert second._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert second.purge(200.0) == 1
    finally:
        second.close()


def test_many_concurrent_claims_of_one_key_make_one_winner(tmp_path: Path) -> None:
    stores: list[IdempotencyStore] = [MemoryStore(), SQLiteStore(tmp_path / "race.db")]

    async def race(store: IdempotencyStore) -> list[str]:
        claims = await asyncio.gather(*(store.claim(KEY, "fp", 0.0, 60.0) for _ in range(50)))
        return [c.status for c in claims]

    for store in stores:
        statuses = asyncio.run(race(store))
        assert statuses.count("claimed") == 1
        assert statuses.count("in_flight") == 49
    stores[1].close()  # type: ignore[attr-defined]


def test_the_memory_store_is_bounded() -> None:
    store = MemoryStore(max_records=3)
    for i in range(5):
        asyncio.run(store.claim(RecordKey("p", str(i)), "fp", 0.0, 60.0))
    assert len(store) == 3
    assert store.purge(60.0) == 3


def test_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    sqlite = SQLiteStore(tmp_path / "x.db")
    assert isinstance(MemoryStore(), IdempotencyStore)
    assert isinstance(sqlite, IdempotencyStore)
    sqlite.close()


def test_many_workers_opening_one_new_database_at_once_all_start(tmp_path: Path) -> None:
    """gunicorn's workers each open the store at boot; none may die on the WAL switch."""
    for round_ in range(5):
        path = tmp_path / f"shared-{round_}.sqlite3"
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def open_store(
            path: Path = path,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                SQLiteStore(path)
            except BaseException as exc:  # collected: a thread's error would be lost
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
