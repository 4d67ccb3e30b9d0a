"""What an elector needs from a lease store: one "try to acquire or renew" and a release.

This is client-go's ``resourcelock.Interface`` reduced to one round trip the elector can
reason about. A backend keeps a *session* (an etcd lease, a Redis holder string): every
:meth:`~LeaseBackend.try_acquire_or_renew` first extends the session's lease by
``lease_duration`` — so the store-side expiry is at least ``lease_duration`` after the
call *started* — and then either takes the election key (if free) or reports who holds
it. :meth:`~LeaseBackend.release` ends the session: it deletes the hold if it can and
forgets it either way, so a later attempt can only win a *new* term, never resurrect an
old one. The fencing token of a term comes from the store and only ever increases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["AsyncLeaseBackend", "LeaseBackend", "Observation"]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one attempt saw: whether this session holds the key, the term's token, and who.

    ``token`` is the holder's fencing token when the store tells it (always when ``held``);
    ``holder`` is the holder's identity as written in the store, if anyone holds the key;
    ``free_in``, for a key held by another, is how many seconds from now it can be taken
    if its holder does not renew, so a candidate can try exactly then.
    """

    held: bool
    token: int | None = None
    holder: str | None = None
    free_in: float | None = None


@runtime_checkable
class LeaseBackend(Protocol):
    """A blocking lease store, driven by :class:`~seawall.lease.LeaderElector`."""

    def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        """Extend this session's lease and take the key if it is free; within ``limit`` s."""
        ...

    def release(self, limit: float) -> None:
        """End the session: delete this session's hold if possible, and forget it anyway."""
        ...

    def close(self) -> None:
        """Free connections; the backend is not used again."""
        ...


@runtime_checkable
class AsyncLeaseBackend(Protocol):
    """The asyncio form of :class:`LeaseBackend`, driven by ``AsyncLeaderElector``."""

    async def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        """Extend this session's lease and take the key if it is free; within ``limit`` s."""
        ...

    async def release(self, limit: float) -> None:
        """End the session: delete this session's hold if possible, and forget it anyway."""
        ...

    async def aclose(self) -> None:
        """Free connections; the backend is not used again."""
        ...
