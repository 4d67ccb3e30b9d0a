"""One TCP proxy at work: its listener, its toxics, its open connections.

Toxiproxy's ``Proxy`` and ``ToxicCollection`` in one: it accepts clients (a disabled
proxy does not listen at all: "connection refused"), hands each to a
:class:`~seawall.chaos._link.Connection`, and tells every open connection when its
toxics change. All of it runs on one event loop, and every method must be called there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any

from seawall.chaos._link import Connection
from seawall.chaos._spec import (
    AlreadyExists,
    FieldError,
    ListenError,
    NotFound,
    ProxyConfig,
    Toxic,
    parse_address,
)
from seawall.chaos._traffic import Traffic

__all__ = ["Proxy", "same_listen"]

logger = logging.getLogger("seawall.chaos")

_ACCEPTS_PER_WAKEUP = 64


def _format_address(sockname: Any) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_address(listen: str) -> tuple[int, tuple[str, int]]:
    """The socket family and address ``listen`` binds: a host name resolved, as bind does."""
    host, port = parse_address(listen, "listen", listen=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(
            host or None, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError):
        return family, (host, port)
    return family, (str(infos[0][4][0]), port)


def same_listen(current: str, wanted: str) -> bool:
    """Whether ``wanted`` names the address a proxy listens on as ``current``.

    A started proxy shows the address it bound (``127.0.0.1:7070``), while a client may
    ask for ``localhost:7070``: both are resolved before comparing, as Toxiproxy does,
    so re-populating the same proxy keeps it (and its toxics and connections). Port 0
    asks for a new port, so it never matches a bound one.
    """
    if current == wanted:
        return True
    try:
        return _bind_address(current)[1] == _bind_address(wanted)[1]
    except FieldError:
        return False


class Proxy:
    """A listening proxy with its toxics; Toxiproxy's ``Proxy`` and ``ToxicCollection``."""

    def __init__(self, config: ProxyConfig, *, rng: random.Random | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.name = config.name
        self.rng = rng or random.Random()
        self.connections: set[Connection] = set()
        self.enabled = False
        self.upstream = config.upstream
        self.upstream_address = parse_address(config.upstream, "upstream", listen=False)
        self._listen = config.listen
        self._toxics: dict[str, Toxic] = {t.name: t for t in config.toxics}
        self._sock: socket.socket | None = None
        self.traffic = Traffic()
        if config.enabled:
            self.start()

    @property
    def listen(self) -> str:
        """The listen address; once started, with the port the OS chose for port 0."""
        return self._listen

    @property
    def toxics(self) -> list[Toxic]:
        return list(self._toxics.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self._toxics.values()],
        }

    # -- listening ---------------------------------------------------------------------

    def start(self) -> None:
        """Listen (again); a bind failure is a :class:`ListenError` (a FieldError)."""
        if self.enabled:
            return
        family, address = _bind_address(self._listen)
        try:
            sock = socket.create_server(address, family=family, backlog=1024)
        except (OSError, OverflowError) as exc:
            raise ListenError(self._listen, address, exc) from None
        sock.setblocking(False)
        self._sock = sock
        self._listen = _format_address(sock.getsockname())
        self.enabled = True
        self.loop.add_reader(sock.fileno(), self._accept)

    def stop(self) -> None:
        """Stop listening and drop every connection: the service is down."""
        if not self.enabled:
            return
        self.enabled = False
        sock, self._sock = self._sock, None
        if sock is not None:
            self.loop.remove_reader(sock.fileno())
            sock.close()
        for conn in list(self.connections):
            conn.abort()

    close = stop

    def _accept(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # out of file descriptors: back off, as asyncio does
                logger.warning("proxy %s: accept failed: %s", self.name, exc)
                self.loop.remove_reader(sock.fileno())
                self.loop.call_later(1.0, self._resume_accepting, sock)
                return
            Connection(self, conn)

    def _resume_accepting(self, sock: socket.socket) -> None:
        if self._sock is sock:
            self.loop.add_reader(sock.fileno(), self._accept)

    def update(
        self, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None
    ) -> None:
        """Change addresses (restarting the proxy, as Toxiproxy does) or enable/disable."""
        upstream_address = self.upstream_address
        if upstream is not None:
            upstream_address = parse_address(upstream, "upstream", listen=False)
        if listen is not None:
            parse_address(listen, "listen", listen=True)
        moved = (listen is not None and not same_listen(self._listen, listen)) or (
            upstream is not None and upstream != self.upstream
        )
        was_enabled = self.enabled
        if moved:
            self.stop()
            self._listen = listen if listen is not None else self._listen
            self.upstream = upstream if upstream is not None else self.upstream
            self.upstream_address = upstream_address
        if enabled if enabled is not None else was_enabled:
            self.start()
        else:
            self.stop()

    # -- toxics ------------------------------------------------------------------------

    def toxic(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            raise NotFound("toxic", name) from None

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self._toxics:
            raise AlreadyExists("toxic", toxic.name)
        self._toxics[toxic.name] = toxic
        self._refresh()

    def replace_toxic(self, toxic: Toxic) -> None:
        self.toxic(toxic.name)
        self._toxics[toxic.name] = toxic
        self._refresh()

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic; connections it blackholed (``timeout``) are closed."""
        self.toxic(name)
        del self._toxics[name]
        self._refresh()

    def clear_toxics(self) -> None:
        self._toxics.clear()
        self._refresh()

    def _refresh(self) -> None:
        for conn in list(self.connections):
            conn.refresh()
