"""A Toxiproxy-compatible server: named proxies plus the control API that drives them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from seawall.chaos._control import ControlAPI, serve_connection
from seawall.chaos._loop import LoopThread, settle
from seawall.chaos._registry import ProxyRegistry
from seawall.chaos._spec import ProxyConfig

__all__ = ["DEFAULT_API_PORT", "ProxyServer"]

DEFAULT_API_PORT = 8474

T = TypeVar("T")


class ProxyServer:
    """Proxies and a control API on ``host:port`` (Toxiproxy's default, 8474).

    Existing Toxiproxy clients drive it unchanged; point them at :attr:`url`::

        async with ProxyServer(port=0, proxies=load_config("proxies.json")) as server:
            print(server.url)             # http://127.0.0.1:54321
            await server.serve_forever()

        with ProxyServer(port=0) as server:   # on a loop thread of its own, for sync code
            toxiproxy_client(server.url)...

    ``rng`` seeds every proxy's random source (toxicity, jitter, slicing) in creation
    order, for reproducible runs. Unknown JSON fields in requests are ignored with a
    logged warning, as Toxiproxy ignores them; ``strict=True`` answers them with 400.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_API_PORT,
        *,
        proxies: Iterable[ProxyConfig] = (),
        rng: random.Random | None = None,
        strict: bool = False,
    ) -> None:
        self._host = host
        self._strict = strict
        self._port = port
        self._initial = list(proxies)
        self._rng = rng
        self._registry: ProxyRegistry | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._runner: LoopThread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The control API's address; the port is the one bound (port 0 resolved)."""
        if self._server is None:
            return self._host, self._port
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def proxies(self) -> dict[str, dict[str, Any]]:
        """A snapshot of every proxy as the API shows it (``GET /proxies``)."""
        return self._on_loop(lambda: {p.name: p.to_json() for p in self._live_registry()})

    def populate(self, configs: Iterable[ProxyConfig]) -> list[dict[str, Any]]:
        """Create or replace proxies, as ``POST /populate`` does."""
        configs = list(configs)
        return self._on_loop(lambda: [p.to_json() for p in self._live_registry().populate(configs)])

    def _live_registry(self) -> ProxyRegistry:
        if self._registry is None:
            raise RuntimeError("the proxy server is not running")
        return self._registry

    def _on_loop(self, fn: Callable[[], T]) -> T:
        return fn() if self._runner is None else self._runner.call(fn)

    # -- async lifetime ----------------------------------------------------------------

    async def start(self) -> None:
        """Bind the control API and start the configured proxies."""
        registry = ProxyRegistry(self._rng)
        try:
            registry.populate(self._initial)
            api = ControlAPI(registry, strict=self._strict)
            self._server = await asyncio.start_server(
                lambda r, w: self._serve(api, r, w), self._host, self._port
            )
        except BaseException:
            registry.close()
            raise
        self._registry = registry

    async def _serve(
        self, api: ControlAPI, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await serve_connection(api, reader, writer)
        except asyncio.CancelledError:
            # Stopping the server cancels its open connections. The task then ends
            # normally: asyncio's stream callback (Python 3.11) logs a cancelled
            # connection task as an error, and nothing awaits this one but aclose.
            pass
        finally:
            self._connections.discard(task)

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def aclose(self) -> None:
        """Stop the API (and its open connections) and every proxy."""
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        await settle()

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- threaded lifetime -------------------------------------------------------------

    def __enter__(self) -> ProxyServer:
        runner = LoopThread("seawall-proxy-server")
        try:
            runner.run(self.start())
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
        """Stop a server started with ``with`` (its loop thread too)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                runner.run(self.aclose())
            finally:
                runner.stop()
