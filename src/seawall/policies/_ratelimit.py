"""RateLimiter: hold each key (tenant, API key, route) to a quota of ``rate`` per second.

A load shedder protects the server from everyone at once; a rate limiter holds one caller
to what it was promised, so a tenant that floods cannot spend the capacity of the others.
The decision is GCRA (:mod:`seawall.policies._gcra`): ``burst`` units at once from idle,
then ``rate`` per second, never more than ``rate * t + burst`` in any ``t`` seconds. A
refused request raises :class:`~seawall.RateLimited` with the exact ``retry_after``.

The state lives in a store: :class:`~seawall.stores.MemoryRateLimitStore` (the default:
this process only) or :class:`~seawall.stores.RedisRateLimitStore` (one quota shared by
every process on the Redis server). A shared store can fail. ``on_store_error`` says what
a request gets then: ``"open"`` admits it (the quota is not enforced during the outage;
the service stays up) and ``"closed"`` refuses it (the quota is never exceeded; callers
get 429s until the store is back). Either way the outage is logged once when it starts
and once when it ends, not once per request.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError, RateLimited
from seawall._events import CallRejected, emit
from seawall._validate import MAX_COUNT, count, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Args, Kwargs, Policy
from seawall.policies._gcra import Quota, Verdict
from seawall.stores._quota import MemoryRateLimitStore, RateLimitStore

__all__ = ["RateLimiter", "RateLimiterStats"]

T = TypeVar("T")
KeyFunction = Callable[..., str]
StoreErrors = Literal["open", "closed"]

logger = logging.getLogger("seawall.ratelimit")

# What a request refused because the store is down is told to wait: long enough not to
# hammer a store that is restarting, short enough to notice it is back.
STORE_DOWN_RETRY_AFTER = 1.0


@dataclass(frozen=True, slots=True)
class RateLimiterStats:
    """Counts since the limiter was made: ``admitted`` and ``limited`` requests, and
    ``store_errors``: requests decided without the store (failed open or closed)."""

    admitted: int
    limited: int
    store_errors: int


class RateLimiter(Policy):
    """``rate`` units per second per key, with a ``burst``, in a shared or local store.

    ``rate``: the sustained quota, units per second (a float: ``0.5`` is one every two
    seconds). ``burst``: the units an idle key may use at once (default: one second's
    worth, at least 1). ``key``: which quota a call uses: a string (one quota for all
    calls) or a function of the call's arguments (``key=lambda tenant, *a: tenant``) for
    the decorator, :meth:`call` and :meth:`acall` forms; :meth:`acquire` takes the key
    itself. ``store``: where the state lives (default: a
    :class:`~seawall.stores.MemoryRateLimitStore` on ``clock``). ``on_store_error``:
    ``"open"`` or ``"closed"``, what to do while the store fails (see the module doc).

    Every argument is checked here; a bad one raises :class:`~seawall.ConfigError`.
    """

    __slots__ = (
        "_admitted",
        "_clock",
        "_key",
        "_limited",
        "_lock",
        "_outage",
        "_store_errors",
        "burst",
        "name",
        "on_store_error",
        "quota",
        "rate",
        "store",
    )

    def __init__(
        self,
        name: str = "default",
        *,
        rate: float,
        burst: int | None = None,
        key: str | KeyFunction = "default",
        store: RateLimitStore | None = None,
        on_store_error: StoreErrors = "open",
        max_keys: int = 10_000,
        idle_timeout: float | timedelta = 600.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = policy_name(name)
        self.rate = real(rate, "rate (units per second)", low=0.0, low_open=True, high=1e9)
        if burst is None:
            burst = max(1, math.floor(self.rate))
        self.burst = count(burst, "burst", maximum=MAX_COUNT)
        if not isinstance(key, str) and not callable(key):
            raise ConfigError(f"key must be a string or a function of the call, got {key!r}")
        if on_store_error not in ("open", "closed"):
            raise ConfigError(f"on_store_error must be 'open' or 'closed', got {on_store_error!r}")
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise ConfigError(f"clock must be a seawall Clock, got {clock!r}")
        if store is None:
            # A key forgotten before its bucket is full again would get a fresh burst.
            idle = max(seconds(idle_timeout, "idle_timeout", positive=True), self.burst / self.rate)
            store = MemoryRateLimitStore(max_keys=max_keys, idle_timeout=idle, clock=clock)
        elif not (
            callable(getattr(store, "take", None)) and callable(getattr(store, "atake", None))
        ):
            raise ConfigError(f"store must be a rate limit store (take/atake), got {store!r}")
        self.quota = Quota(self.rate, self.burst)
        self.store = store
        self.on_store_error: StoreErrors = on_store_error
        self._key = key
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._outage = 0  # requests decided without the store in the current outage
        self._admitted = 0
        self._limited = 0
        self._store_errors = 0

    # -- the decision ------------------------------------------------------------------

    def acquire(self, key: str = "default", cost: int = 1) -> Verdict:
        """Use ``cost`` units of ``key``'s quota, or raise :class:`~seawall.RateLimited`."""
        now = self._clock.now()
        try:
            verdict = self.store.take(key, self.quota, cost, now)
        except Exception as exc:  # the store is down: decided by on_store_error
            return self._store_failed(key, exc, now)
        return self._settle(key, verdict, now)

    async def aacquire(self, key: str = "default", cost: int = 1) -> Verdict:
        """As :meth:`acquire`, through the store's async form."""
        now = self._clock.now()
        try:
            verdict = await self.store.atake(key, self.quota, cost, now)
        except Exception as exc:
            return self._store_failed(key, exc, now)
        return self._settle(key, verdict, now)

    def _settle(self, key: str, verdict: Verdict, now: float) -> Verdict:
        if self._outage:
            self._recovered()
        if verdict.allowed:
            self._admitted += 1
            return verdict
        self._limited += 1
        emit(
            CallRejected(
                policy="rate_limiter",
                name=self.name,
                at=now,
                reason="over quota",
                retry_after=verdict.retry_after,
            )
        )
        raise RateLimited(
            self.name,
            f"rate limiter {self.name!r}: key {key!r} is over its quota of {self.rate:g}/s "
            f"(burst {self.burst}); retry after {verdict.retry_after:.3f}s",
            key=key,
            retry_after=verdict.retry_after,
            remaining=verdict.remaining,
            reset=verdict.reset,
        )

    def _store_failed(self, key: str, exc: Exception, now: float) -> Verdict:
        with self._lock:
            first = self._outage == 0
            self._outage += 1
            self._store_errors += 1
        if first:
            logger.error(
                "rate limiter %r: store %r failed (%s: %s); failing %s until it answers",
                self.name,
                self.store,
                type(exc).__name__,
                exc,
                "open (requests admitted unlimited)"
                if self.on_store_error == "open"
                else "closed (requests refused)",
            )
        if self.on_store_error == "open":
            self._admitted += 1
            return Verdict(allowed=True, remaining=self.burst, retry_after=0.0, reset=0.0)
        self._limited += 1
        raise RateLimited(
            self.name,
            f"rate limiter {self.name!r}: store unavailable and failing closed",
            key=key,
            retry_after=STORE_DOWN_RETRY_AFTER,
        ) from exc

    def _recovered(self) -> None:
        with self._lock:
            missed, self._outage = self._outage, 0
        if missed:
            logger.warning(
                "rate limiter %r: store %r answers again; %d requests were decided without it",
                self.name,
                self.store,
                missed,
            )

    # -- the call forms ----------------------------------------------------------------

    def _key_of(self, args: Args, kwargs: Kwargs) -> str:
        key = self._key
        if isinstance(key, str):
            return key
        value = key(*args, **kwargs)
        if not isinstance(value, str):
            raise ConfigError(f"rate limiter {self.name!r}: key function returned {value!r}")
        return value

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        self.acquire(self._key_of(args, kwargs))
        return fn(*args, **kwargs)

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        await self.aacquire(self._key_of(args, kwargs))
        return await fn(*args, **kwargs)

    # -- what the edges and metrics read -----------------------------------------------

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def limited(self) -> int:
        return self._limited

    @property
    def store_errors(self) -> int:
        return self._store_errors

    def statistics(self) -> RateLimiterStats:
        """A frozen snapshot of the counters."""
        return RateLimiterStats(self._admitted, self._limited, self._store_errors)

    def __repr__(self) -> str:
        return f"RateLimiter({self.name!r}, rate={self.rate:g}, burst={self.burst})"
