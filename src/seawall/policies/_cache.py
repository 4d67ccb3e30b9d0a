"""A herd-safe read-through cache policy.

A cache protects its backend only while it is warm; the moment a hot entry expires, every
caller misses at once and the herd arrives at the database (a cache expires, and ten
thousand instances hit the database in the same instant). This cache closes each door:

- **Coalesced loads.** Concurrent misses of one key make one backend call
  (:class:`~seawall.SingleFlight`); everyone shares its value or its error.
- **Jittered TTL** (±10 % by default). Entries written together — a deploy, a warm-up,
  a bulk load — would otherwise all expire in the same instant; jitter spreads expiry
  evenly over the jitter range.
- **Stale-while-revalidate.** For ``stale_while_revalidate`` seconds after expiry the old
  value is served while exactly one caller refreshes it.
- **Stale-if-error.** When the refresh fails, the old value is served for up to
  ``stale_if_error`` seconds after expiry instead of the error: graceful degradation.
- **Probabilistic early refresh** (XFetch, Vattani et al., VLDB 2015). A caller refreshes
  a still-fresh entry early with a probability that rises as expiry nears and with how
  long a load takes (``early_refresh`` is XFetch's beta, 1.0 by default; 0 disables it),
  so a hot key is usually refreshed before it expires and nobody waits.
- **Bounded size.** The default :class:`MemoryCacheStore` evicts least recently used.

No value is ever served older than its (jittered) TTL plus ``max(stale_while_revalidate,
stale_if_error)``. Both stale bounds default to 0: serving stale data is a choice the
caller makes for its data; coalescing, jitter and early refresh are always safe.

Storage is a small protocol (:class:`CacheStore`) so a shared store (Redis) can replace
the in-process one; entries carry the clock readings they were judged by.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Hashable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError
from seawall._events import Event, attempt_events_enabled, flush
from seawall._validate import callable_or_none, count, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Args, Kwargs, Policy
from seawall.policies._singleflight import KeyFunction, SingleFlight, default_key

__all__ = [
    "Cache",
    "CacheEntry",
    "CacheStats",
    "CacheStore",
    "MemoryCacheStore",
    "StaleServed",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """A cached value and the clock readings that decide what it may still be used for.

    ``fresh_until`` is when it expires (jittered TTL); ``keep_until`` is when it is useless
    even as a stale answer (a store may drop it then); ``load_time`` is how long loading
    it took, which XFetch weighs.
    """

    value: Any
    stored_at: float
    fresh_until: float
    keep_until: float
    load_time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StaleServed(Event):
    """A cache answered with an expired value, ``age`` seconds old, for ``reason``.

    ``reason`` is ``"revalidating"`` (another caller is refreshing it) or ``"error"`` (the
    refresh failed with ``error``: graceful degradation).
    """

    reason: str
    age: float
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counts since the cache was created."""

    hits: int
    stale_hits: int
    misses: int
    loads: int
    load_errors: int
    stale_on_error: int
    early_refreshes: int


@runtime_checkable
class CacheStore(Protocol):
    """Where a :class:`Cache` keeps its entries (memory by default; Redis later)."""

    def get(self, key: Hashable) -> CacheEntry | None: ...
    def set(self, key: Hashable, entry: CacheEntry) -> None: ...
    def delete(self, key: Hashable) -> None: ...
    async def aget(self, key: Hashable) -> CacheEntry | None: ...
    async def aset(self, key: Hashable, entry: CacheEntry) -> None: ...
    async def adelete(self, key: Hashable) -> None: ...


class MemoryCacheStore:
    """An in-process LRU store holding at most ``max_entries`` entries; thread-safe."""

    __slots__ = ("_entries", "_lock", "max_entries")

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = count(max_entries, "max_entries")
        self._entries: OrderedDict[Hashable, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def set(self, key: Hashable, entry: CacheEntry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    async def aget(self, key: Hashable) -> CacheEntry | None:
        return self.get(key)

    async def aset(self, key: Hashable, entry: CacheEntry) -> None:
        self.set(key, entry)

    async def adelete(self, key: Hashable) -> None:
        self.delete(key)

    def __len__(self) -> int:
        return len(self._entries)


_HIT, _EARLY, _STALE, _MISS = 0, 1, 2, 3

# What a flow yields while it waits for the driver's I/O (never an answer).
_LOADING: Any = object()
Flow = Generator[Any, Any, Any]


def _resume(flow: Flow, reply: Any, error: Exception | None = None) -> Any:
    """Send ``reply`` (or throw ``error``) into ``flow``: its answer, or ``_LOADING``."""
    try:
        return flow.send(reply) if error is None else flow.throw(error)
    except StopIteration as done:
        return done.value


class Cache(Policy):
    """Read-through caching of a call's result, safe against herds (see the module doc).

    As a policy the cache key is ``key(*args, **kwargs)`` (the arguments by default): use
    one Cache per operation. ``get_or_load(key, loader)`` / ``aget_or_load`` name the key
    explicitly.
    """

    __slots__ = (
        "_beta",
        "_clock",
        "_events",
        "_flight",
        "_jitter",
        "_keep",
        "_key",
        "_lock",
        "_rng",
        "_sie",
        "_swr",
        "_ttl",
        "early_refreshes",
        "hits",
        "load_errors",
        "loads",
        "misses",
        "name",
        "stale_hits",
        "stale_on_error",
        "store",
    )

    def __init__(
        self,
        ttl: float | timedelta,
        *,
        name: str = "default",
        jitter: float = 0.1,
        stale_while_revalidate: float | timedelta = 0.0,
        stale_if_error: float | timedelta = 0.0,
        early_refresh: float = 1.0,
        max_entries: int = 1024,
        store: CacheStore | None = None,
        key: KeyFunction | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        ttl = seconds(ttl, "ttl", positive=True, infinite=False)
        jitter = real(jitter, "jitter (a fraction of the TTL)", low=0.0, high=1.0, high_open=True)
        stale_while_revalidate = seconds(
            stale_while_revalidate, "stale_while_revalidate", infinite=False
        )
        stale_if_error = seconds(stale_if_error, "stale_if_error", infinite=False)
        early_refresh = real(early_refresh, "early_refresh", low=0.0)
        if store is not None and not isinstance(store, CacheStore):
            raise ConfigError(f"store must be a seawall CacheStore, got {store!r}")
        callable_or_none(key, "key")
        self.name = policy_name(name)
        self._ttl = float(ttl)
        self._jitter = jitter
        self._swr = stale_while_revalidate
        self._sie = stale_if_error
        self._keep = max(stale_while_revalidate, stale_if_error)
        self._beta = early_refresh
        self.store: CacheStore = store if store is not None else MemoryCacheStore(max_entries)
        self._key: KeyFunction = key or default_key
        self._clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()
        self._flight = SingleFlight(name, clock=self._clock)
        self._events: list[Event] = []  # what it decided (stale served), emitted after
        self._lock = threading.Lock()
        # Counters, as plain fields (written under the lock, read without it).
        self.hits = 0
        self.stale_hits = 0
        self.misses = 0
        self.loads = 0
        self.load_errors = 0
        self.stale_on_error = 0
        self.early_refreshes = 0

    # -- pure decisions ----------------------------------------------------------------

    def _entry(self, value: Any, started: float, now: float) -> CacheEntry:
        with self._lock:
            spread = self._rng.uniform(-self._jitter, self._jitter) if self._jitter else 0.0
        fresh_until = now + self._ttl * (1.0 + spread)
        return CacheEntry(
            value=value,
            stored_at=now,
            fresh_until=fresh_until,
            keep_until=fresh_until + self._keep,
            load_time=max(now - started, 0.0),
        )

    def _judge(self, entry: CacheEntry | None, now: float) -> int:
        """Hit, early refresh, stale (may revalidate in the background) or miss."""
        if entry is None or now >= entry.keep_until:
            return _MISS
        if now < entry.fresh_until:
            if self._beta and entry.load_time > 0.0:
                with self._lock:
                    draw = 1.0 - self._rng.random()  # in (0, 1]: log is finite
                if now - entry.load_time * self._beta * math.log(draw) >= entry.fresh_until:
                    return _EARLY
            return _HIT
        if now < entry.fresh_until + self._swr:
            return _STALE
        return _MISS

    def _decide(self, key: Hashable, entry: CacheEntry | None, now: float) -> int:
        """Serve the cached value (``_HIT``) or load: ``_MISS``, ``_EARLY``, ``_STALE``.

        A stale or early-refresh entry whose key is already loading is served: one load
        per key at a time is the point of coalescing.
        """
        verdict = self._judge(entry, now)
        if entry is None or verdict == _MISS:
            with self._lock:
                self.misses += 1
            return _MISS
        if verdict == _HIT or self._flight.running(key):
            if verdict == _STALE:
                self._served_stale(entry, now)
            else:
                with self._lock:
                    self.hits += 1
            return _HIT
        if verdict == _EARLY:
            with self._lock:
                self.early_refreshes += 1
        return verdict

    def _loading(self) -> float:
        """Count a load starting now; when it started."""
        with self._lock:
            self.loads += 1
        return self._clock.now()

    def _rescue(self, key: Hashable, entry: CacheEntry | None, verdict: int, exc: Exception) -> Any:
        """After a failed load (inside its ``except``): ``entry``'s old value, or re-raise."""
        with self._lock:
            self.load_errors += 1
        if entry is not None and (
            (verdict == _EARLY and self._clock.now() < entry.fresh_until)  # may fail quietly
            or self._stale_on_error(key, entry, exc)
        ):
            return entry.value
        raise exc

    def _stale_on_error(self, key: Hashable, entry: CacheEntry | None, exc: Exception) -> bool:
        """Whether the failed refresh of ``entry`` may be answered with its old value."""
        if entry is None:
            return False
        # Re-read the clock: the failed load took time, and the bound is on serving.
        now = self._clock.now()
        if now >= entry.fresh_until + self._sie:
            return False
        with self._lock:
            self.stale_on_error += 1
        self._stale_event(entry, now, "error", exc)
        return True

    def _served_stale(self, entry: CacheEntry, now: float) -> None:
        with self._lock:
            self.stale_hits += 1
        if attempt_events_enabled():
            self._stale_event(entry, now, "revalidating")

    def _stale_event(
        self, entry: CacheEntry, now: float, reason: str, error: BaseException | None = None
    ) -> None:
        age = now - entry.stored_at
        self._events.append(
            StaleServed(policy="cache", name=self.name, at=now, reason=reason, age=age, error=error)
        )

    # -- the flow, written once --------------------------------------------------------

    def _flow(self, key: Hashable, entry: CacheEntry | None) -> Flow:
        """One read of ``key`` (stored as ``entry``), as a generator both drivers run.

        Every decision is here: hit, early refresh, stale while revalidating, miss, and
        what a failed load is answered with. The drivers only do the I/O: they read the
        entry, start the flow, and unless it answers at once (from the cache) send it the
        coalesced load's value or throw in its error. The flow returns the answer: the
        cached value, the loaded one, or an old value served instead of the error.
        """
        verdict = self._decide(key, entry, self._clock.now())
        if self._events:
            flush(self)
        if verdict == _HIT:
            assert entry is not None  # a hit has an entry
            return entry.value
        try:
            return (yield _LOADING)
        except Exception as exc:
            try:
                return self._rescue(key, entry, verdict, exc)
            finally:
                flush(self)

    def _stored(self, key: Hashable, value: T, started: float) -> tuple[Hashable, CacheEntry]:
        """What a load that started at ``started`` and gave ``value`` writes to the store."""
        return key, self._entry(value, started, self._clock.now())

    # -- threads ---------------------------------------------------------------------

    def get_or_load(self, key: Hashable, loader: Callable[[], T]) -> T:
        """The cached value of ``key``, loading it with ``loader()`` when needed."""

        def load() -> T:
            started = self._loading()
            value = loader()
            self.store.set(*self._stored(key, value, started))
            return value

        flow = self._flow(key, self.store.get(key))
        answer = _resume(flow, None)
        if answer is not _LOADING:
            return cast(T, answer)
        try:
            value = self._flight.run(key, load)
        except Exception as exc:
            return cast(T, _resume(flow, None, exc))
        return cast(T, _resume(flow, value))

    def invalidate(self, key: Hashable) -> None:
        """Forget ``key``: the next call loads it again."""
        self.store.delete(key)

    # -- asyncio ---------------------------------------------------------------------

    async def aget_or_load(self, key: Hashable, loader: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key``, awaiting ``loader()`` when needed."""

        async def load() -> T:
            started = self._loading()
            value = await loader()
            await self.store.aset(*self._stored(key, value, started))
            return value

        flow = self._flow(key, await self.store.aget(key))
        answer = _resume(flow, None)
        if answer is not _LOADING:
            return cast(T, answer)
        try:
            value = await self._flight.arun(key, load)
        except Exception as exc:
            return cast(T, _resume(flow, None, exc))
        return cast(T, _resume(flow, value))

    async def ainvalidate(self, key: Hashable) -> None:
        """Forget ``key``: the next call loads it again."""
        await self.store.adelete(key)

    # -- policy forms ------------------------------------------------------------------

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        return self.get_or_load(self._key(*args, **kwargs), lambda: fn(*args, **kwargs))

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        return await self.aget_or_load(self._key(*args, **kwargs), lambda: fn(*args, **kwargs))

    @property
    def coalesced(self) -> int:
        """Loads that waited for another caller's load of the same key."""
        return self._flight.coalesced

    def statistics(self) -> CacheStats:
        """A frozen snapshot of the counters."""
        with self._lock:
            return CacheStats(
                hits=self.hits,
                stale_hits=self.stale_hits,
                misses=self.misses,
                loads=self.loads,
                load_errors=self.load_errors,
                stale_on_error=self.stale_on_error,
                early_refreshes=self.early_refreshes,
            )

    def __repr__(self) -> str:
        return f"Cache({self._ttl}, name={self.name!r})"
