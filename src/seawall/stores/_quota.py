"""Where a rate limiter keeps each key's GCRA state, and the one step a store makes atomic.

A store answers one question per request, atomically: "may ``cost`` units of ``key``'s
quota be used now?" (:func:`seawall.policies._gcra.step`). :class:`MemoryRateLimitStore`
holds the state in this process, under a lock; the Redis store runs the same step as one
Lua script, so every process that shares the Redis server shares the quota.

A store has a sync form (``take``, for threads: WSGI, the sync call forms) and an async
form (``atake``, for the event loop), over one state.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Protocol, runtime_checkable

from seawall._clock import Clock
from seawall.policies._gcra import Quota, Verdict, step
from seawall.policies._registry import Registry

__all__ = ["MemoryRateLimitStore", "RateLimitStore"]


@runtime_checkable
class RateLimitStore(Protocol):
    """Per-key GCRA state. ``now`` is the limiter's clock reading (a shared store may use
    its own clock instead, so that every process agrees on time)."""

    def take(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        """Decide a request of ``cost`` units for ``key`` and record it if admitted."""
        ...

    async def atake(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        """As :meth:`take`, without blocking the event loop."""
        ...


class _Cell:
    __slots__ = ("tat",)

    def __init__(self) -> None:
        self.tat: float | None = None


class MemoryRateLimitStore:
    """GCRA state in this process: at most ``max_keys`` keys, idle ones forgotten.

    Keys come from the outside world (tenants, API keys, client addresses), so the map is
    bounded: the least recently used key is dropped when ``max_keys`` is reached, and a
    key unused for ``idle_timeout`` seconds is dropped on the next insertion. Forgetting a
    key whose bucket is already full changes nothing; forgetting a busy key early (LRU
    pressure) gives it a fresh burst, so size ``max_keys`` above the keys active at once.
    """

    def __init__(
        self,
        *,
        max_keys: int = 10_000,
        idle_timeout: float | timedelta = 600.0,
        clock: Clock | None = None,
    ) -> None:
        self._cells: Registry[_Cell] = Registry(
            lambda _key: _Cell(), max_keys=max_keys, idle_timeout=idle_timeout, clock=clock
        )
        self._lock = threading.Lock()

    def take(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        cell = self._cells.get(key)
        with self._lock:
            verdict, cell.tat = step(cell.tat, now, quota, cost)
        return verdict

    async def atake(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        return self.take(key, quota, cost, now)

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        return f"MemoryRateLimitStore(max_keys={self._cells.max_keys})"
