"""One socket of a proxied connection, driven by the loop's readiness callbacks.

An :class:`Endpoint` owns a non-blocking socket and one ordered output queue: bytes
written from Python and byte counts waiting in the inbound link's pipe (moved on with
``splice(2)``). It flushes what the socket takes, registers for writability for the
rest, reports its backlog to the inbound link (backpressure), and does the three ways
a connection can end: half-close (FIN after the queue), close, and reset (RST).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["RETRY", "SPLICE_FLAGS", "Endpoint", "Inbound", "Owner", "open_connection"]

SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
RETRY = (BlockingIOError, InterruptedError)
_CLOSE_GRACE = 10.0  # seconds a graceful close may wait for the peer to take our data


class Owner(Protocol):
    """The connection an endpoint belongs to: told when a socket fails or half-closes."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def failed(self, exc: OSError) -> None: ...

    def half_closed(self) -> None: ...

    def endpoint_closed(self) -> None:
        """One of its sockets is closed for good."""
        ...


class Inbound(Protocol):
    """The link that writes into an endpoint, and owns the pipe its spliced bytes wait in."""

    pipe_r: int | None
    pipe_pending: int

    def close_pipe(self) -> None: ...

    def dest_level(self, pending: int) -> None: ...

    def count_sent(self, count: int) -> None: ...


class Endpoint:
    """A non-blocking socket with an ordered output queue, on the loop's callbacks."""

    def __init__(self, conn: Owner, sock: socket.socket) -> None:
        self.conn = conn
        self.sock = sock
        self.fd = sock.fileno()
        self.loop = conn.loop
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inbound: Inbound | None = None  # the link that writes here (and owns the pipe)
        self.pending = 0
        self.eof_sent = False
        self.closed = False
        self._out: deque[bytes | memoryview | int] = deque()  # int: bytes in the pipe
        self._reader = False
        self._writer = False
        self._eof_wanted = False
        self._close_wanted = False

    def read(self, callback: Callable[[], None]) -> None:
        if not self._reader and not self.closed:
            self.loop.add_reader(self.fd, callback)
            self._reader = True

    def stop_reading(self) -> None:
        if self._reader:
            self.loop.remove_reader(self.fd)
            self._reader = False

    def write(self, data: bytes) -> None:
        if data and not self.closed and not self._eof_wanted:
            self._out.append(data)
            self.pending += len(data)
            self._flush()

    def write_piped(self, count: int) -> None:
        if self._out and isinstance(self._out[-1], int):
            self._out[-1] += count
        else:
            self._out.append(count)
        self.pending += count
        self._flush()

    def write_eof(self) -> None:
        self._eof_wanted = True
        self._flush()

    def close(self) -> None:
        """Close once the queued output is written (or after a grace period)."""
        self.stop_reading()
        self._close_wanted = True
        if not self._out:
            self.abort()
        else:
            self.loop.call_later(_CLOSE_GRACE, self.abort)

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop_reading()
        if self._writer:
            self.loop.remove_writer(self.fd)
            self._writer = False
        self._out.clear()
        self.sock.close()
        if self.inbound is not None:
            self.inbound.close_pipe()
        self.conn.endpoint_closed()

    def reset(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.abort()

    def _flush(self) -> None:
        if self.closed:
            return
        out = self._out
        while out:
            item = out[0]
            try:
                if isinstance(item, int):
                    assert self.inbound is not None
                    assert self.inbound.pipe_r is not None
                    sent = os.splice(self.inbound.pipe_r, self.fd, item, flags=SPLICE_FLAGS)
                    self.inbound.pipe_pending -= sent
                    if sent < item:
                        out[0] = item - sent
                    else:
                        out.popleft()
                else:
                    sent = self.sock.send(item)
                    if sent < len(item):
                        out[0] = memoryview(item)[sent:]
                    else:
                        out.popleft()
            except RETRY:
                break
            except OSError as exc:
                self.conn.failed(exc)
                return
            self.pending -= sent
            if self.inbound is not None:
                self.inbound.count_sent(sent)
            if not sent:
                break
        if out and not self._writer:
            self.loop.add_writer(self.fd, self._flush)
            self._writer = True
        elif not out and self._writer:
            self.loop.remove_writer(self.fd)
            self._writer = False
        if not out:
            if self._close_wanted:
                self.abort()
                return
            if self._eof_wanted and not self.eof_sent:
                self.eof_sent = True
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_WR)
                self.conn.half_closed()
                return
        if self.inbound is not None:
            self.inbound.dest_level(self.pending)


async def open_connection(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A connected non-blocking socket to ``host:port`` (each resolved address in turn)."""
    try:  # a numeric host needs no resolver thread
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error
