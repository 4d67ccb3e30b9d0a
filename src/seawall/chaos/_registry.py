"""The proxies a server runs, by name: Toxiproxy's ``ProxyCollection``."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

from seawall.chaos._proxy import Proxy
from seawall.chaos._spec import AlreadyExists, FieldError, NotFound, ProxyConfig

__all__ = ["ProxyRegistry"]


class ProxyRegistry:
    """Named proxies on one event loop; each gets its own random source from ``rng``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._proxies: dict[str, Proxy] = {}

    def __iter__(self) -> Iterator[Proxy]:
        return iter(list(self._proxies.values()))

    def get(self, name: str) -> Proxy:
        try:
            return self._proxies[name]
        except KeyError:
            raise NotFound(f"proxy not found: {name!r}") from None

    def create(self, config: ProxyConfig) -> Proxy:
        if config.name in self._proxies:
            raise AlreadyExists(f"proxy already exists: {config.name!r}")
        proxy = Proxy(config, rng=random.Random(self._rng.getrandbits(64)))
        self._proxies[config.name] = proxy
        return proxy

    def delete(self, name: str) -> None:
        self.get(name).close()
        del self._proxies[name]

    def populate(self, configs: Iterable[ProxyConfig]) -> list[Proxy]:
        """Create or replace each proxy; one with the same listen and upstream is kept.

        Proxies not named are left alone, as in Toxiproxy.
        """
        result: list[Proxy] = []
        for config in configs:
            existing = self._proxies.get(config.name)
            if existing is not None:
                if (existing.listen, existing.upstream) == (config.listen, config.upstream):
                    result.append(existing)
                    continue
                self.delete(config.name)
            result.append(self.create(config))
        return result

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        failed: FieldError | None = None
        for proxy in self._proxies.values():
            proxy.clear_toxics()
            try:
                proxy.start()
            except FieldError as exc:
                failed = failed or FieldError(f"{proxy.name}.listen", exc.reason)
        if failed is not None:
            raise failed

    def close(self) -> None:
        for proxy in self._proxies.values():
            proxy.close()
        self._proxies.clear()
