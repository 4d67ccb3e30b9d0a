"""The Python API for one proxy: ``FaultProxy``."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from seawall.chaos._loop import LoopThread, settle
from seawall.chaos._proxy import Proxy
from seawall.chaos._spec import DEFAULT_LISTEN, ProxyConfig, Stream, Toxic, parse_address

__all__ = ["FaultProxy"]

T = TypeVar("T")


class FaultProxy:
    """A fault-injection TCP proxy in front of ``upstream`` (``"host:port"``).

    Point the code under test at :attr:`listen` (or :attr:`host`/:attr:`port`) instead of
    the upstream, then add toxics::

        async with FaultProxy("127.0.0.1:6379") as proxy:      # on the running loop
            with proxy.toxic("latency", latency=100, jitter=10):
                ...                                            # every reply 90-110 ms late
            with proxy.down():
                ...                                            # connection refused

        with FaultProxy("127.0.0.1:6379") as proxy:            # sync code: its own loop thread
            proxy.add_toxic("reset_peer", stream="upstream")

    In ``async with`` form, call its methods from the loop's thread; in ``with`` form,
    from any thread. ``rng`` makes toxicity, jitter and slicing reproducible.
    """

    def __init__(
        self,
        upstream: str,
        *,
        listen: str = DEFAULT_LISTEN,
        name: str = "fault_proxy",
        toxics: Iterable[Toxic] = (),
        enabled: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self._config = ProxyConfig(
            name=name, upstream=upstream, listen=listen, enabled=enabled, toxics=tuple(toxics)
        )
        self._rng = rng
        self._proxy: Proxy | None = None
        self._runner: LoopThread | None = None

    # -- lifetime ----------------------------------------------------------------------

    async def __aenter__(self) -> FaultProxy:
        self._proxy = Proxy(self._config, rng=self._rng)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        await settle()

    def __enter__(self) -> FaultProxy:
        runner = LoopThread(f"seawall-proxy-{self._config.name}")
        try:
            self._proxy = runner.call(Proxy, self._config, rng=self._rng)
        except BaseException:
            runner.stop()
            raise
        self._runner = runner
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop a proxy started with ``with`` (its loop thread too)."""
        runner, self._runner = self._runner, None
        proxy, self._proxy = self._proxy, None
        if runner is not None:
            try:
                if proxy is not None:
                    runner.call(proxy.close)
                runner.run(settle())
            finally:
                runner.stop()

    def _call(self, fn: Callable[[Proxy], T]) -> T:
        proxy = self._proxy
        if proxy is None:
            raise RuntimeError("the proxy is not running: use `with` or `async with`")
        return fn(proxy) if self._runner is None else self._runner.call(fn, proxy)

    # -- what it is --------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def upstream(self) -> str:
        return self._config.upstream

    @property
    def listen(self) -> str:
        """``host:port`` to connect to (the bound port once running)."""
        return self._config.listen if self._proxy is None else self._proxy.listen

    @property
    def host(self) -> str:
        return parse_address(self.listen, "listen", listen=True)[0]

    @property
    def port(self) -> int:
        return parse_address(self.listen, "listen", listen=True)[1]

    @property
    def enabled(self) -> bool:
        return self._call(lambda p: p.enabled)

    @property
    def toxics(self) -> list[Toxic]:
        return self._call(lambda p: p.toxics)

    @property
    def connections(self) -> int:
        """Client connections open through the proxy now."""
        return self._call(lambda p: len(p.connections))

    def to_json(self) -> dict[str, Any]:
        return self._call(lambda p: p.to_json())

    # -- faults ------------------------------------------------------------------------

    def add_toxic(
        self,
        type: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str = "",
        **attributes: int,
    ) -> Toxic:
        """Add a toxic (Toxiproxy's types and attributes); it acts on open connections too."""
        toxic = Toxic(type, stream, toxicity, attributes, name)
        self._call(lambda p: p.add_toxic(toxic))
        return toxic

    def update_toxic(self, name: str, *, toxicity: float | None = None, **attributes: int) -> Toxic:
        """Change a toxic's toxicity or some of its attributes."""

        def update(proxy: Proxy) -> Toxic:
            body: dict[str, Any] = {"attributes": attributes}
            if toxicity is not None:
                body["toxicity"] = toxicity
            toxic = proxy.toxic(name).updated(body)
            proxy.replace_toxic(toxic)
            return toxic

        return self._call(update)

    def remove_toxic(self, name: str) -> None:
        self._call(lambda p: p.remove_toxic(name))

    def clear_toxics(self) -> None:
        self._call(lambda p: p.clear_toxics())

    @contextmanager
    def toxic(
        self,
        type: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str = "",
        **attributes: int,
    ) -> Iterator[Toxic]:
        """A toxic for the duration of the block."""
        toxic = self.add_toxic(type, stream=stream, toxicity=toxicity, name=name, **attributes)
        try:
            yield toxic
        finally:
            if self._proxy is not None:
                self.remove_toxic(toxic.name)

    def disable(self) -> None:
        """Stop listening and drop every connection: the upstream looks down."""
        self._call(lambda p: p.stop())

    def enable(self) -> None:
        """Listen again, on the same address."""
        self._call(lambda p: p.start())

    @contextmanager
    def down(self) -> Iterator[None]:
        """The upstream is down for the duration of the block."""
        self.disable()
        try:
            yield
        finally:
            if self._proxy is not None:
                self.enable()
