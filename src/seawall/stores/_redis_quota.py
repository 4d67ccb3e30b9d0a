"""RedisRateLimitStore: one quota shared by every process on a Redis server (``seawall[redis]``).

Each key's GCRA state is one Redis string, the theoretical arrival time in microseconds.
The whole step (read the TAT, decide, write the new TAT) is one Lua script, so it is
atomic on the server however many processes race for the same key: N processes share one
quota exactly, not N quotas. The script reads the time with Redis's own ``TIME``, so the
processes' clocks never need to agree, and sets the key to expire (``PEXPIRE``) when its
bucket is full again, so idle keys cost no memory. Every script touches one key, so the
store also works on Redis Cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seawall._errors import ConfigError
from seawall.policies._gcra import Quota, Verdict

if TYPE_CHECKING:
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

__all__ = ["RedisRateLimitStore"]

# KEYS[1] the key's TAT (µs); ARGV interval (µs per unit), tolerance (µs), cost.
# Returns {allowed, remaining units, retry_after µs, reset µs}.
_STEP = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local after = tat + cost * interval
local ahead = after - now
if ahead > tolerance then
  local free = tat - now
  return {0, math.floor((tolerance - free) / interval + 1e-9), math.ceil(ahead - tolerance),
          math.ceil(free)}
end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil(ahead / 1000) + 1)
return {1, math.floor((tolerance - ahead) / interval + 1e-9), 0, math.ceil(ahead)}
"""

_US = 1_000_000.0


class RedisRateLimitStore:
    """GCRA state in Redis under ``prefix``, through a sync and/or an async redis client.

    ``RedisRateLimitStore(client=redis.Redis(...), aclient=redis.asyncio.Redis(...))``
    uses clients you own (the sync one serves :meth:`take`, the async one :meth:`atake`;
    pass the one your code path needs). :meth:`from_url` makes both, with short socket
    timeouts so that an outage is noticed in a quarter of a second rather than hanging
    requests, and :meth:`close`/:meth:`aclose` close them.
    """

    def __init__(
        self,
        client: Redis | None = None,
        *,
        aclient: AsyncRedis | None = None,
        prefix: str = "seawall:ratelimit:",
    ) -> None:
        if client is None and aclient is None:
            raise ConfigError("RedisRateLimitStore needs client= (sync) or aclient= (async)")
        if not isinstance(prefix, str):
            raise ConfigError(f"prefix must be a string, got {prefix!r}")
        self.client = client
        self.aclient = aclient
        self.prefix = prefix
        self._owned = False
        self._step = client.register_script(_STEP) if client is not None else None
        self._astep = aclient.register_script(_STEP) if aclient is not None else None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "seawall:ratelimit:",
        socket_timeout: float = 0.25,
        **options: Any,
    ) -> RedisRateLimitStore:
        """A store on new sync and async clients for ``url`` (``redis://127.0.0.1:6379/0``)."""
        try:
            from redis import Redis
            from redis.asyncio import Redis as AsyncRedis
        except ImportError as exc:  # pragma: no cover - the extra is missing
            raise ConfigError("RedisRateLimitStore needs the extra seawall[redis]") from exc
        options.setdefault("socket_connect_timeout", socket_timeout)
        store = cls(
            Redis.from_url(url, socket_timeout=socket_timeout, **options),
            aclient=AsyncRedis.from_url(url, socket_timeout=socket_timeout, **options),
            prefix=prefix,
        )
        store._owned = True
        return store

    def _args(self, key: str, quota: Quota, cost: int) -> tuple[list[str], list[str]]:
        interval = _US / quota.rate
        return [self.prefix + key], [repr(interval), repr(quota.burst * interval), str(cost)]

    def take(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        if self._step is None:
            raise ConfigError("this RedisRateLimitStore has no sync client (pass client=)")
        keys, args = self._args(key, quota, cost)
        return _verdict(self._step(keys=keys, args=args))

    async def atake(self, key: str, quota: Quota, cost: int, now: float) -> Verdict:
        if self._astep is None:
            raise ConfigError("this RedisRateLimitStore has no async client (pass aclient=)")
        keys, args = self._args(key, quota, cost)
        return _verdict(await self._astep(keys=keys, args=args))

    def close(self) -> None:
        """Close the sync client if this store made it (:meth:`from_url`)."""
        if self._owned and self.client is not None:
            self.client.close()

    async def aclose(self) -> None:
        """Close both clients if this store made them (:meth:`from_url`)."""
        if self._owned:
            self.close()
            if self.aclient is not None:
                await self.aclient.aclose()

    def __repr__(self) -> str:
        return f"RedisRateLimitStore(prefix={self.prefix!r})"


def _verdict(reply: list[Any]) -> Verdict:
    allowed, remaining, retry_after, reset = (int(part) for part in reply)
    return Verdict(
        allowed=allowed == 1,
        remaining=max(0, remaining),
        retry_after=retry_after / _US,
        reset=max(0, reset) / _US,
    )
