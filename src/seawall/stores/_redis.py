"""RedisStore: idempotency records in Redis, shared by every replica (extra ``seawall[redis]``).

Each record is one hash. The claim is a Lua script, so "is the key free? then take it"
is one atomic step on the Redis server however many replicas race for the same key; the
complete and release scripts check the claim's token the same way. Expiry is Redis's own
(``PEXPIRE``): an in-flight record lives ``lock_ttl``, a completed one the retention TTL,
measured by the Redis server, so replicas' clocks never need to agree. Every script
touches exactly one key, so the store also works on Redis Cluster.

The client must be a ``redis.asyncio`` client that returns bytes (the default,
``decode_responses=False``): bodies are binary.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from seawall._errors import ConfigError
from seawall.stores._base import (
    Claim,
    RecordKey,
    StoredResponse,
    decode_headers,
    encode_headers,
    new_token,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

# KEYS[1] record; ARGV fingerprint, token, lock ttl (ms).
# Returns {1} when claimed, else {0, fingerprint, token, status, headers, body, pttl}.
_CLAIM = """
local found = redis.call('HMGET', KEYS[1], 'fingerprint', 'token', 'status', 'headers', 'body')
if not found[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1}
end
return {0, found[1], found[2], found[3], found[4], found[5], redis.call('PTTL', KEYS[1])}
"""

# KEYS[1] record; ARGV token, status, headers, body, ttl (ms). Returns 1 when stored.
_COMPLETE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS[1] record; ARGV token.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000.0))


class RedisStore:
    """Idempotency records in Redis under ``prefix``, through a ``redis.asyncio`` client.

    ``RedisStore(client)`` uses a client you own; :meth:`from_url` makes one that
    :meth:`aclose` closes.
    """

    def __init__(self, client: Redis, *, prefix: str = "seawall:idempotency:") -> None:
        kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
        if kwargs.get("decode_responses"):
            raise ConfigError("RedisStore needs a client with decode_responses=False")
        self.client = client
        self.prefix = prefix
        self._owned = False
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "seawall:idempotency:", **options: Any
    ) -> RedisStore:
        """A store on a new client for ``url`` (``redis://127.0.0.1:6379/0``)."""
        from redis.asyncio import Redis

        store = cls(Redis.from_url(url, **options), prefix=prefix)
        store._owned = True
        return store

    def record_key(self, key: RecordKey) -> str:
        # The principal's length first: no principal/key split can collide with another.
        return f"{self.prefix}{len(key.principal)}:{key.principal}:{key.key}"

    async def claim(self, key: RecordKey, fingerprint: str, now: float, lock_ttl: float) -> Claim:
        token = new_token()
        reply = await self._claim(
            keys=[self.record_key(key)], args=[fingerprint, token, _ms(lock_ttl)]
        )
        if reply[0] == 1:
            return Claim("claimed", token=token)
        _, found, _owner, status, headers, body, pttl = reply
        if found.decode() != fingerprint:
            return Claim("mismatch")
        if status is not None:
            response = StoredResponse(int(status), decode_headers(headers or b"[]"), body or b"")
            return Claim("completed", response=response)
        return Claim("in_flight", retry_after=max(0, int(pttl)) / 1000.0)

    async def complete(
        self, key: RecordKey, token: str, response: StoredResponse, now: float, expires_at: float
    ) -> bool:
        if expires_at <= now:
            await self.release(key, token)
            return False
        stored = await self._complete(
            keys=[self.record_key(key)],
            args=[
                token,
                response.status,
                encode_headers(response.headers),
                response.body,
                _ms(expires_at - now),
            ],
        )
        return int(stored) == 1

    async def release(self, key: RecordKey, token: str) -> None:
        await self._release(keys=[self.record_key(key)], args=[token])

    async def aclose(self) -> None:
        """Close the client if this store made it (:meth:`from_url`)."""
        if self._owned:
            await self.client.aclose()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"
