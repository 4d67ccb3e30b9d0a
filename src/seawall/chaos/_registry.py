"""The proxies a server runs, by name: Toxiproxy's ``ProxyCollection``."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator

from seawall.chaos._proxy import Proxy, same_listen
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
            raise NotFound("proxy", name) from None

    def create(self, config: ProxyConfig) -> Proxy:
        if config.name in self._proxies:
            raise AlreadyExists("proxy", config.name)
        proxy = Proxy(config, rng=random.Random(self._rng.getrandbits(64)))
        self._proxies[config.name] = proxy
        return proxy

    def delete(self, name: str) -> None:
        self.get(name).close()
        del self._proxies[name]

    def populate(self, configs: Iterable[ProxyConfig]) -> list[Proxy]:
        """Create or replace each proxy; one with the same listen and upstream is kept.

        "The same listen" is compared after resolving (``localhost:7070`` is the
        ``127.0.0.1:7070`` a proxy bound), and a kept proxy keeps its toxics and open
        connections. Proxies not named are left alone, as in Toxiproxy. All or nothing:
        if a proxy cannot listen, those created by this call are closed and those it
        replaced are restarted as they were (their open connections are lost), so a
        failed populate leaves the set of proxies unchanged.
        """
        result: list[Proxy] = []
        created: list[Proxy] = []
        replaced: list[tuple[ProxyConfig, bool]] = []
        try:
            for config in configs:
                existing = self._proxies.get(config.name)
                if existing is not None:
                    if existing.upstream == config.upstream and same_listen(
                        existing.listen, config.listen
                    ):
                        result.append(existing)
                        continue
                    replaced.append((_snapshot(existing), existing.enabled))
                    self.delete(config.name)
                proxy = self.create(config)
                created.append(proxy)
                result.append(proxy)
        except BaseException:
            for proxy in created:
                proxy.close()
                del self._proxies[proxy.name]
            for old, enabled in replaced:
                # Restart disabled first: the port it held is free again, since what
                # replaced it has been closed; a failure here leaves it disabled.
                restored = Proxy(old, rng=random.Random(self._rng.getrandbits(64)))
                self._proxies[old.name] = restored
                if enabled:
                    with contextlib.suppress(FieldError):
                        restored.start()
            raise
        return result

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        failed: FieldError | None = None
        for proxy in self._proxies.values():
            proxy.clear_toxics()
            try:
                proxy.start()
            except FieldError as exc:  # a ListenError stays one: Toxiproxy's 500
                failed = failed or exc.within(proxy.name)
        if failed is not None:
            raise failed

    def close(self) -> None:
        for proxy in self._proxies.values():
            proxy.close()
        self._proxies.clear()


def _snapshot(proxy: Proxy) -> ProxyConfig:
    """A disabled copy of ``proxy``'s configuration, to restore it from."""
    return ProxyConfig(
        name=proxy.name,
        listen=proxy.listen,
        upstream=proxy.upstream,
        enabled=False,
        toxics=tuple(proxy.toxics),
    )
