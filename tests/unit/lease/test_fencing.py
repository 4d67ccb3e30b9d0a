"""SQLiteFencedStore: writes below the highest token seen are refused, atomically."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall import SeawallError
from seawall.lease import FencedRecord, FencedStore, SQLiteFencedStore, StaleToken


def test_a_write_below_the_highest_token_is_refused_and_changes_nothing() -> None:
    with SQLiteFencedStore() as store:
        assert isinstance(store, FencedStore)
        store.write("k", "term 3", token=3)
        store.write("k", "term 3 again", token=3)  # one term writes many times
        with pytest.raises(StaleToken) as refused:
            store.write("k", "deposed", token=2)
        assert (refused.value.token, refused.value.highest) == (2, 3)
        assert "token 2 is below the highest token seen, 3" in str(refused.value)
        assert isinstance(refused.value, SeawallError)
        with pytest.raises(StaleToken):
            store.write("other", "deposed", token=1)
        with pytest.raises(StaleToken):
            store.delete("k", token=2)
        assert store.read("k") == FencedRecord("k", "term 3 again", 3)
        assert store.read("other") is None
        store.write("k", b"term 4", token=4)
        assert store.highest_token() == 4
        assert store.records() == [FencedRecord("k", b"term 4", 4)]
        store.delete("k", token=4)
        assert store.records() == []


def test_fences_are_per_resource_and_shared_by_every_connection_to_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fenced.db"
    with (
        SQLiteFencedStore(path, resource="orders") as orders,
        SQLiteFencedStore(path, resource="orders") as orders_elsewhere,
        SQLiteFencedStore(path, resource="billing") as billing,
    ):
        orders.write("cursor", "1", token=10)
        with pytest.raises(StaleToken):
            orders_elsewhere.write("cursor", "2", token=9)
        billing.write("cursor", "x", token=1)  # another election, its own tokens
        assert orders_elsewhere.read("cursor") == FencedRecord("cursor", "1", 10)
        assert billing.highest_token() == 1
        assert "resource='orders'" in repr(orders)


@pytest.mark.parametrize("token", [-1, 1.5, True, "3"])
def test_a_token_must_be_a_non_negative_int(token: object) -> None:
    with SQLiteFencedStore() as store, pytest.raises(TypeError):
        store.write("k", "v", token=token)  # type: ignore[arg-type]


def test_concurrent_writers_never_land_a_write_below_one_already_accepted(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    accepted: list[int] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with SQLiteFencedStore(path) as store:
            for _ in range(60):
                token = rng.randrange(1, 40)
                try:
                    store.write("k", f"{token}", token=token)
                except StaleToken:
                    continue
                with lock:
                    accepted.append(token)

    # One writer first creates the schema, so the others only ever contend for writes.
    SQLiteFencedStore(path).close()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with SQLiteFencedStore(path) as store:
        record = store.read("k")
        assert record is not None
        assert record.token == store.highest_token() == max(accepted)
    # Each accepted token was >= the fence at its commit; the fence only rises. Seen in
    # commit order that is non-decreasing, which the append order approximates closely
    # enough that any stale write would show as a final record below the maximum.


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=40))
def test_the_accepted_writes_are_ordered_by_term(writes: list[tuple[str, int]]) -> None:
    with SQLiteFencedStore() as store:
        accepted = []
        for key, token in writes:
            try:
                store.write(key, f"{key}{token}", token=token)
            except StaleToken:
                assert token < store.highest_token()
            else:
                accepted.append(token)
        assert accepted == sorted(accepted)
        assert all(r.token <= store.highest_token() for r in store.records())
