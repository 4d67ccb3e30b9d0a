"""An in-process lease store on a clock: for tests, simulations and the game day.

It is the semantics of the real backends with nothing in between: one election key per
name, a holder session, a store-side expiry ``lease_duration`` after each extension, and
a token counter that only ever increases. Time is the injected clock's, so on a
:class:`~seawall.testing.FakeClock` a whole failover runs in virtual time.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall.lease._backend import Observation

__all__ = ["AsyncMemoryLease", "MemoryLease", "MemoryLeaseStore"]


@dataclass(slots=True)
class _Hold:
    session: str
    identity: str
    token: int
    expires_at: float


class MemoryLeaseStore:
    """A table of election keys shared by every :class:`MemoryLease` made from it."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._holds: dict[str, _Hold] = {}
        self._tokens: dict[str, int] = {}

    def lease(self, key: str = "leader") -> MemoryLease:
        """A blocking backend session on ``key``."""
        return MemoryLease(self, key)

    def async_lease(self, key: str = "leader") -> AsyncMemoryLease:
        """An asyncio backend session on ``key``."""
        return AsyncMemoryLease(self, key)

    def holder(self, key: str = "leader") -> tuple[str, int] | None:
        """``(identity, token)`` of the live hold on ``key``, or ``None``."""
        with self._lock:
            hold = self._live(key)
            return None if hold is None else (hold.identity, hold.token)

    def latest_token(self, key: str = "leader") -> int:
        """The highest token ever granted on ``key`` (0 before the first term)."""
        with self._lock:
            return self._tokens.get(key, 0)

    def _live(self, key: str) -> _Hold | None:
        hold = self._holds.get(key)
        if hold is not None and hold.expires_at <= self.clock.now():
            del self._holds[key]
            return None
        return hold

    def _acquire_or_renew(
        self, key: str, session: str, identity: str, lease_duration: float
    ) -> Observation:
        with self._lock:
            now = self.clock.now()
            hold = self._live(key)
            if hold is None:
                token = self._tokens.get(key, 0) + 1
                self._tokens[key] = token
                self._holds[key] = _Hold(session, identity, token, now + lease_duration)
                return Observation(True, token, identity)
            if hold.session == session:
                hold.expires_at = now + lease_duration
                return Observation(True, hold.token, hold.identity)
            return Observation(False, hold.token, hold.identity, hold.expires_at - now)

    def _release(self, key: str, session: str) -> None:
        with self._lock:
            hold = self._live(key)
            if hold is not None and hold.session == session:
                del self._holds[key]


class MemoryLease:
    """A :class:`~seawall.lease.LeaseBackend` on a :class:`MemoryLeaseStore`."""

    def __init__(self, store: MemoryLeaseStore, key: str = "leader") -> None:
        self.store = store
        self.key = key
        self._session = uuid.uuid4().hex

    def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        return self.store._acquire_or_renew(self.key, self._session, identity, lease_duration)

    def release(self, limit: float) -> None:
        self.store._release(self.key, self._session)
        self._session = uuid.uuid4().hex

    def close(self) -> None:
        pass


class AsyncMemoryLease:
    """An :class:`~seawall.lease.AsyncLeaseBackend` on a :class:`MemoryLeaseStore`."""

    def __init__(self, store: MemoryLeaseStore, key: str = "leader") -> None:
        self._lease = MemoryLease(store, key)

    async def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        return self._lease.try_acquire_or_renew(identity, lease_duration, limit)

    async def release(self, limit: float) -> None:
        self._lease.release(limit)

    async def aclose(self) -> None:
        pass
