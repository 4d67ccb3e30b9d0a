"""``seawall dashboard URL...``: one dashboard over several instances, as Turbine over Hystrix.

Each URL is an instance's ``/seawall`` snapshot (a URL without a path gets ``/seawall``).
Once a second every instance is asked for its snapshot; the tiles sum the instances'
traffic, the worst breaker state wins, and an instance that does not answer is listed
with its error at the top of the page while the others keep their tiles.

Exit codes: 0 stopped (SIGINT/SIGTERM); 2 a bad URL or flag, or an address that cannot
be bound (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from seawall._errors import ConfigError
from seawall.metrics._dashboard import Dashboard

__all__ = ["Instance", "instance_url", "register"]

_DESCRIPTION = """\
Serve a live dashboard of several seawall instances' policies, summed per dependency.

examples:
  seawall dashboard http://10.0.0.5:8000 http://10.0.0.6:8000
  seawall dashboard http://127.0.0.1:8000/seawall --port 8050
"""


def instance_url(text: str) -> str:
    """The snapshot URL of one instance; raises :class:`ConfigError` on a bad one."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise ConfigError(f"bad instance URL {text!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"bad instance URL {text!r}: expected http(s)://host[:port][/path]")
    path = parts.path if parts.path not in ("", "/") else "/seawall"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class Instance:
    """One instance's snapshot, fetched over HTTP with a client kept for the loop's life."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None

    async def __call__(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        response = await self._client.get(self.url, headers={"accept": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return response.json()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class _Site:
    """The dashboard at ``/dashboard``, with ``/`` sending the browser there."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/":
            headers = [(b"location", b"/dashboard"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.dashboard(scope, receive, send)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve a live dashboard of several instances",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("urls", nargs="+", metavar="URL", help="an instance's /seawall URL")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument("--port", default="8050", help="port to serve on (8050; 0 picks one)")
    parser.set_defaults(func=_run)


def _fail(message: str) -> int:
    print(f"seawall dashboard: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    try:
        urls = [instance_url(u) for u in args.urls]
    except ConfigError as exc:
        return _fail(str(exc))
    if len(set(urls)) != len(urls):
        return _fail("an instance URL is given twice")
    if not args.port.isdigit() or not 0 <= int(args.port) <= 65535:
        return _fail(f"--port must be a port number 0-65535, got {args.port!r}")
    try:
        import uvicorn
    except ModuleNotFoundError:
        return _fail("needs uvicorn and httpx: pip install 'seawall[http]'")
    try:
        sock = _bind(args.host, int(args.port))
    except OSError as exc:
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
    instances = {url: Instance(url, timeout=0.9) for url in urls}
    dashboard = Dashboard(instances, path="/dashboard")
    config = uvicorn.Config(
        _Site(dashboard),
        log_level="warning",
        lifespan="on",
        # Streams never finish on their own; a stop must not wait for the open pages.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"seawall dashboard: http://{shown}:{port}/dashboard ({len(urls)} instances)", flush=True)

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            for instance in instances.values():
                await instance.aclose()

    asyncio.run(serve())
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
