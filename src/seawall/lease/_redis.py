"""The Redis backend: ``SET NX PX`` for the election key, ``INCR`` for the fencing token.

**Safe only on a single Redis primary.** Redis replication is asynchronous: if the primary
fails over to a replica that had not yet received the latest ``SET``, the new primary
grants the key a second time while the old holder still leads — two leaders, and the
fencing token counter may even step back. Sentinel, Redis Cluster and managed failover do
not change that; Redlock's timing assumptions are disputed for the same reason. Use the
etcd backend where a primary can fail over; use this one where one Redis primary is
already the single point that everything depends on.

Each attempt is one Lua script, so it is atomic on the server: if the key is free, take a
new token with ``INCR`` and set the key (``token session identity``) with a ``PX`` expiry
of ``lease_duration`` — ``SET NX PX`` and ``INCR`` in one step, so no crash can leave a
hold without a token; if this session holds it, extend it with ``PEXPIRE``; otherwise
report the holder and its ``PTTL``, so a candidate tries again the moment it expires.
Redis checks expiry on every access, so an expired key is free at once. Every call is
bounded by the client's ``socket_timeout``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seawall.lease._backend import Observation

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["AsyncRedisLease", "RedisLease"]

_ACQUIRE_OR_RENEW = """
local current = redis.call('GET', KEYS[1])
if not current then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
  return {1, token, ARGV[2]}
end
local a = string.find(current, ' ', 1, true)
local b = string.find(current, ' ', a + 1, true)
local token = tonumber(string.sub(current, 1, a - 1))
local session = string.sub(current, a + 1, b - 1)
local identity = string.sub(current, b + 1)
if session == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, token, identity}
end
return {0, token, identity, redis.call('PTTL', KEYS[1])}
"""

_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current then
  local a = string.find(current, ' ', 1, true)
  local b = string.find(current, ' ', a + 1, true)
  if string.sub(current, a + 1, b - 1) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
  end
end
return 0
"""


def _observation(reply: Any) -> Observation:
    held, token, identity, *pttl = reply
    if isinstance(identity, bytes):
        identity = identity.decode("utf-8", "replace")
    free_in = max(0, int(pttl[0])) / 1000 if pttl else None
    return Observation(bool(held), int(token), str(identity), free_in)


def _px(lease_duration: float) -> int:
    return max(1, int(lease_duration * 1000))


class _Scripts:
    """What both clients share: the client, the keys, the two scripts, the session id."""

    client: Any

    def _bind(
        self, client: Any, from_url: Callable[..., Any], key: str, socket_timeout: float
    ) -> None:
        self._own_client = isinstance(client, str)
        if self._own_client:
            client = from_url(
                client, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
            )
        self.client = client
        self.key = key
        self.token_key = f"{key}:token"
        self._acquire = client.register_script(_ACQUIRE_OR_RENEW)
        self._release = client.register_script(_RELEASE)
        self._session = uuid.uuid4().hex


class RedisLease(_Scripts):
    """A :class:`~seawall.lease.LeaseBackend` on one Redis primary (see the module caveat).

    ``client`` is a :class:`redis.Redis` or a URL; a URL gets a client whose calls time
    out after ``socket_timeout`` seconds. The token counter is the key ``<key>:token``.
    """

    client: redis.Redis

    def __init__(
        self,
        client: redis.Redis | str,
        key: str = "seawall:leader",
        *,
        socket_timeout: float = 1.0,
    ) -> None:
        import redis

        self._bind(client, redis.Redis.from_url, key, socket_timeout)

    def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        reply = self._acquire(
            keys=[self.key, self.token_key],
            args=[self._session, identity, _px(lease_duration)],
        )
        return _observation(reply)

    def release(self, limit: float) -> None:
        session, self._session = self._session, uuid.uuid4().hex
        self._release(keys=[self.key], args=[session])

    def close(self) -> None:
        if self._own_client:
            self.client.close()


class AsyncRedisLease(_Scripts):
    """The asyncio form of :class:`RedisLease`, on a :class:`redis.asyncio.Redis` or URL."""

    client: redis.asyncio.Redis

    def __init__(
        self,
        client: redis.asyncio.Redis | str,
        key: str = "seawall:leader",
        *,
        socket_timeout: float = 1.0,
    ) -> None:
        import redis.asyncio

        self._bind(client, redis.asyncio.Redis.from_url, key, socket_timeout)

    async def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        reply = await self._acquire(
            keys=[self.key, self.token_key],
            args=[self._session, identity, _px(lease_duration)],
        )
        return _observation(reply)

    async def release(self, limit: float) -> None:
        session, self._session = self._session, uuid.uuid4().hex
        await self._release(keys=[self.key], args=[session])

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()
