"""Herd-safe cache: coalescing, jitter, stale-while-revalidate, stale-if-error, XFetch, LRU."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seawall
from seawall.testing import FakeClock, capture_events


class NaiveCache:
    """What a cache without herd protection does: check, miss, load, store."""

    def __init__(self, ttl: float, clock: FakeClock) -> None:
        self.ttl, self.clock = ttl, clock
        self.entries: dict[str, tuple[float, Any]] = {}

    async def get(self, key: str, loader: Callable[[], Any]) -> Any:
        hit = self.entries.get(key)
        if hit is not None and self.clock.now() < hit[0]:
            return hit[1]
        value = await loader()
        self.entries[key] = (self.clock.now() + self.ttl, value)
        return value


def test_a_thousand_callers_on_one_expired_key_make_one_backend_call_not_a_thousand() -> None:
    async def main() -> tuple[int, int]:
        clock = FakeClock()
        calls = {"coalesced": 0, "naive": 0}

        def backend(which: str) -> Callable[[], Any]:
            async def load() -> str:
                calls[which] += 1
                await asyncio.sleep(0)  # a real round trip: others arrive meanwhile
                return "row"

            return load

        cache = seawall.Cache(60.0, clock=clock)
        naive = NaiveCache(60.0, clock)
        await cache.aget_or_load("hot", backend("coalesced"))
        await naive.get("hot", backend("naive"))
        calls.update(coalesced=0, naive=0)
        clock.advance(120.0)  # the hot key has expired everywhere
        results = await asyncio.gather(
            *(cache.aget_or_load("hot", backend("coalesced")) for _ in range(1000)),
            *(naive.get("hot", backend("naive")) for _ in range(1000)),
        )
        assert set(results) == {"row"}
        return calls["coalesced"], calls["naive"]

    assert asyncio.run(main()) == (1, 1000)


def test_jittered_ttls_spread_expiry_over_the_jitter_range() -> None:
    clock = FakeClock()
    cache = seawall.Cache(100.0, jitter=0.1, max_entries=20_000, clock=clock, rng=random.Random(7))
    for key in range(10_000):
        cache.get_or_load(key, lambda: "v")  # all written at the same instant
    store = cache.store
    assert isinstance(store, seawall.MemoryCacheStore)
    expiries = [entry.fresh_until for entry in store._entries.values()]
    assert min(expiries) >= 90.0
    assert max(expiries) <= 110.0
    assert (max(expiries) - min(expiries)) >= 0.9 * 20.0
    # ...and spread evenly: each tenth of the range holds about a tenth of the keys.
    deciles = [0] * 10
    for when in expiries:
        deciles[min(int((when - 90.0) / 2.0), 9)] += 1
    assert all(800 <= n <= 1200 for n in deciles)
    # Expiry then really happens gradually: a tenth of the way in, about 10 % reloads.
    loads = 0

    def reload() -> str:
        nonlocal loads
        loads += 1
        return "v2"

    clock.advance(92.0)
    for key in range(10_000):
        cache.get_or_load(key, reload)
    assert 800 <= loads <= 1200


def test_without_jitter_every_key_expires_at_once() -> None:
    clock = FakeClock()
    cache = seawall.Cache(100.0, jitter=0.0, clock=clock)
    for key in range(100):
        cache.get_or_load(key, lambda: "v")
    store = cache.store
    assert isinstance(store, seawall.MemoryCacheStore)
    assert {entry.fresh_until for entry in store._entries.values()} == {100.0}


def test_stale_while_revalidate_serves_stale_while_exactly_one_refresh_runs() -> None:
    async def main() -> None:
        clock = FakeClock()
        cache = seawall.Cache(
            10.0, jitter=0.0, stale_while_revalidate=30.0, early_refresh=0.0, clock=clock
        )
        await cache.aget_or_load("k", _value("old"))
        clock.advance(15.0)  # expired, inside the revalidation window
        release = asyncio.Event()
        refreshes = 0

        async def refresh() -> str:
            nonlocal refreshes
            refreshes += 1
            await release.wait()
            return "new"

        refresher = asyncio.create_task(cache.aget_or_load("k", refresh))
        await asyncio.sleep(0)
        served = await asyncio.gather(*(cache.aget_or_load("k", refresh) for _ in range(100)))
        assert set(served) == {"old"}
        assert refreshes == 1
        # Past the revalidation window, stale is no longer an answer: callers join the refresh.
        clock.advance(25.0)
        late = asyncio.create_task(cache.aget_or_load("k", refresh))
        await asyncio.sleep(0)
        assert not late.done()
        release.set()
        assert await refresher == await late == "new"
        assert await cache.aget_or_load("k", refresh) == "new"
        assert refreshes == 1
        assert cache.statistics().stale_hits == 100

    asyncio.run(main())


def test_beyond_the_revalidation_window_callers_wait_for_the_fresh_value() -> None:
    clock = FakeClock()
    cache = seawall.Cache(10.0, jitter=0.0, stale_while_revalidate=5.0, clock=clock)
    cache.get_or_load("k", lambda: "old")
    clock.advance(16.0)
    assert cache.get_or_load("k", lambda: "new") == "new"


def test_stale_if_error_serves_the_old_value_for_a_bounded_time() -> None:
    clock = FakeClock()
    cache = seawall.Cache(10.0, jitter=0.0, stale_if_error=60.0, clock=clock, name="users")

    def down() -> str:
        raise ConnectionError("database down")

    cache.get_or_load("k", lambda: "old")
    clock.advance(30.0)
    with capture_events() as events:
        assert cache.get_or_load("k", down) == "old"
    [event] = events
    assert isinstance(event, seawall.StaleServed)
    assert (event.reason, event.name, event.age) == ("error", "users", 30.0)
    assert isinstance(event.error, ConnectionError)
    clock.advance(40.0)  # 70 s past expiry: beyond the stale bound
    with pytest.raises(ConnectionError):
        cache.get_or_load("k", down)
    assert cache.statistics().stale_on_error == 1


def test_errors_are_not_cached_and_a_miss_without_stale_raises() -> None:
    cache = seawall.Cache(10.0, clock=FakeClock())
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("blip")
        return "ok"

    with pytest.raises(ConnectionError):
        cache.get_or_load("k", flaky)
    assert cache.get_or_load("k", flaky) == "ok"


def test_xfetch_refreshes_hot_keys_early_more_often_as_expiry_nears() -> None:
    clock = FakeClock()
    cache = seawall.Cache(60.0, jitter=0.0, clock=clock, rng=random.Random(1))

    def early_refreshes_at(now: float) -> int:
        for key in range(1000):  # entries that took 2 s to load, expiring at 60 s
            cache.store.set(
                key,
                seawall.CacheEntry(
                    value="v", stored_at=0.0, fresh_until=60.0, keep_until=60.0, load_time=2.0
                ),
            )
        clock.advance(now - clock.now())
        before = cache.statistics().early_refreshes
        for key in range(1000):
            assert cache.get_or_load(key, lambda: "v2") in ("v", "v2")
        return cache.statistics().early_refreshes - before

    assert early_refreshes_at(30.0) == 0  # P = exp(-15): essentially never
    # 3 s before expiry: refreshed when -2 * ln(u) >= 3, P = exp(-1.5) = 22 %.
    assert 170 <= early_refreshes_at(57.0) <= 280
    # 0.2 s before expiry: P = exp(-0.1) = 90 %.
    assert early_refreshes_at(59.8) >= 850


def test_xfetch_can_be_disabled() -> None:
    clock = FakeClock()
    cache = seawall.Cache(60.0, jitter=0.0, early_refresh=0.0, clock=clock)

    def slow_load() -> str:
        clock.advance(10.0)
        return "v"

    cache.get_or_load("k", slow_load)
    clock.advance(49.0)
    cache.get_or_load("k", slow_load)
    assert cache.statistics().early_refreshes == 0


def test_the_memory_store_is_bounded_and_evicts_least_recently_used() -> None:
    cache = seawall.Cache(60.0, max_entries=2, clock=FakeClock())
    loads: list[str] = []

    def load(key: str) -> str:
        loads.append(key)
        return key

    for key in ("a", "b", "a", "c", "a", "b"):
        cache.get_or_load(key, lambda key=key: load(key))  # type: ignore[misc]
    assert loads == ["a", "b", "c", "b"]


def test_as_a_policy_the_key_is_the_arguments() -> None:
    clock = FakeClock()
    calls: list[int] = []

    @seawall.Cache(30.0, clock=clock)
    def user(user_id: int) -> str:
        calls.append(user_id)
        return f"user-{user_id}"

    assert [user(1), user(1), user(2)] == ["user-1", "user-1", "user-2"]
    assert calls == [1, 2]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl": 0.0},
        {"ttl": 1.0, "jitter": 1.0},
        {"ttl": 1.0, "stale_if_error": -1.0},
        {"ttl": 1.0, "max_entries": 0},
    ],
)
def test_bad_parameters_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(seawall.ConfigError):
        seawall.Cache(**kwargs)


def _value(value: str) -> Callable[[], Any]:
    async def load() -> str:
        return value

    return load


operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0.0, 40.0)),
        st.tuples(st.just("get"), st.sampled_from(["ok", "fail", "slow_fail", "slow_ok"])),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    ops=operations,
    ttl=st.floats(1.0, 30.0),
    jitter=st.floats(0.0, 0.5),
    swr=st.floats(0.0, 30.0),
    sie=st.floats(0.0, 30.0),
    seed=st.integers(0, 2**16),
)
def test_property_the_cache_never_serves_a_value_older_than_ttl_plus_its_stale_bound(
    ops: list[tuple[str, Any]], ttl: float, jitter: float, swr: float, sie: float, seed: int
) -> None:
    clock = FakeClock()
    cache = seawall.Cache(
        ttl,
        jitter=jitter,
        stale_while_revalidate=swr,
        stale_if_error=sie,
        clock=clock,
        rng=random.Random(seed),
    )
    stale_bound = max(swr, sie)

    def loader(kind: str) -> Callable[[], float]:
        def load() -> float:
            if kind.startswith("slow"):
                clock.advance(3.0)  # loads take time, which XFetch weighs
            if kind.endswith("fail"):
                raise ConnectionError("down")
            return clock.now()  # the value is the time it was loaded

        return load

    for op, arg in ops:
        if op == "advance":
            clock.advance(arg)
            continue
        try:
            loaded_at = cache.get_or_load("k", loader(arg))
        except ConnectionError:
            continue
        entry = cache.store.get("k")
        assert entry is not None
        # The value served is the stored entry's: a refresh that lands at the same virtual
        # instant as the load before it replaces that entry, TTL included.
        assert entry.stored_at == loaded_at
        entry_ttl = entry.fresh_until - entry.stored_at
        assert entry_ttl <= ttl * (1.0 + jitter) + 1e-9
        assert clock.now() - loaded_at <= entry_ttl + stale_bound + 1e-9


def test_the_flow_decides_every_read_without_doing_io() -> None:
    """The one flow both drivers run, driven by hand: entries in, answers out."""
    from seawall.policies._cache import _LOADING, CacheEntry, _resume

    clock = FakeClock()
    cache = seawall.Cache(10.0, jitter=0.0, stale_if_error=5.0, early_refresh=0.0, clock=clock)
    fresh = CacheEntry(value="old", stored_at=0.0, fresh_until=10.0, keep_until=15.0, load_time=0)
    assert _resume(cache._flow("k", fresh), None) == "old"  # a hit answers at once

    miss = cache._flow("k", None)
    assert _resume(miss, None) is _LOADING  # a miss waits for the driver's load
    assert _resume(miss, "new") == "new"

    clock.advance(12.0)  # expired, inside stale_if_error
    failing = cache._flow("k", fresh)
    assert _resume(failing, None) is _LOADING
    assert _resume(failing, None, ConnectionError("down")) == "old"
    late = cache._flow("k", None)
    _resume(late, None)
    with pytest.raises(ConnectionError):  # nothing old to serve: the error stands
        _resume(late, None, ConnectionError("down"))
    assert (cache.hits, cache.misses, cache.stale_on_error, cache.load_errors) == (1, 3, 1, 2)
