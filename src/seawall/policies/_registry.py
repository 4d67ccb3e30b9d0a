"""Per-key policies (one breaker per host, one bulkhead per dependency), bounded.

A client that talks to many hosts needs one breaker per host, but keys come from the
outside world: an unbounded map keyed by host is a memory leak waiting for a crawler.
The registry caps the number of keys and evicts the least recently used, and drops keys
idle for longer than ``idle_timeout``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError
from seawall._validate import count, seconds

__all__ = ["Registry"]

P = TypeVar("P")

# Recency is recorded at most this often per key: LRU order and idle eviction only need
# coarse recency, and skipping the update keeps the per-request path lock-free.
_TOUCH_EVERY = 1.0


class Registry(Generic[P]):
    """``registry.get(key)`` returns the policy for ``key``, made by ``factory(key)``."""

    def __init__(
        self,
        factory: Callable[[str], P],
        *,
        max_keys: int = 1000,
        idle_timeout: float | timedelta = 600.0,
        clock: Clock | None = None,
    ) -> None:
        if not callable(factory):
            raise ConfigError(f"factory must be a callable taking the key, got {factory!r}")
        self._factory = factory
        self.max_keys = count(max_keys, "max_keys")
        # inf: a key is never evicted for being idle, only when max_keys is reached.
        self.idle_timeout = seconds(idle_timeout, "idle_timeout", positive=True)
        self._clock = clock or SYSTEM_CLOCK
        self._entries: OrderedDict[str, tuple[P, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> P:
        now = self._clock.now()
        entry = self._entries.get(key)
        if entry is not None and now - entry[1] < _TOUCH_EVERY:
            return entry[0]  # used within the last second: no LRU bookkeeping, no lock
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (entry[0], now)
                self._entries.move_to_end(key)
                return entry[0]
            self._evict(now)
            policy = self._factory(key)
            self._entries[key] = (policy, now)
            return policy

    def _evict(self, now: float) -> None:
        entries = self._entries
        while entries:
            _, (_, used) = next(iter(entries.items()))
            if now - used < self.idle_timeout and len(entries) < self.max_keys:
                break
            entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)
