"""One proxied connection: two sockets and the two streams between them.

A connection joins the client's socket to one opened to the upstream with two
:class:`_Link` objects, ``upstream`` (client to server) and ``downstream`` (server to
client). The sockets are driven directly by the loop's readiness callbacks rather than
asyncio transports, so the path without toxics can move bytes with ``splice(2)``: from
one socket into a pipe and from the pipe into the other socket, never copied into
Python (on Linux; elsewhere it is ``recv``/``send`` of up to 256 KiB). That cuts the
proxy's own CPU per byte by about 40 %, CPU the system under test can use instead.
(Readiness callbacks need a selector event loop: the default on Linux and macOS.)

A link with toxic stages instead reads chunks into Python, stamps them with their
arrival time and queues them for a pump task that runs them through the stages in
order. Toxics can come and go while connections are open (as in Toxiproxy); whether a
toxic affects a connection (``toxicity``) is decided once, when it first meets it.
Every socket's output is one ordered queue (bytes from the pump, byte counts waiting in
the pipe), so switching between the two paths never reorders data.

All of it runs on one event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import sys
from collections import deque
from typing import Protocol

from seawall.chaos._endpoint import RETRY, SPLICE_FLAGS, Endpoint, open_connection
from seawall.chaos._spec import Stream, Toxic
from seawall.chaos._toxics import Stage, stage_for
from seawall.chaos._traffic import Traffic

__all__ = ["Connection", "Host"]

logger = logging.getLogger("seawall.chaos")

_READ_SIZE = 256 * 1024
# Pipe capacity asked for; kept modest because pipe pages count against a per-user limit
# (/proc/sys/fs/pipe-user-pages-soft), past which the kernel hands out smaller pipes.
_PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ / F_GETPIPE_SZ, Linux only
_F_GETPIPE_SZ = 1032
_SPLICE = sys.platform == "linux" and hasattr(os, "splice")
# Output waiting at an endpoint before its source stops being read, and resumes.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 18


class Host(Protocol):
    """What a connection needs of the proxy that accepted it."""

    @property
    def name(self) -> str: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    @property
    def rng(self) -> random.Random: ...

    @property
    def upstream_address(self) -> tuple[str, int]: ...

    @property
    def connections(self) -> set[Connection]:
        """The open connections; a connection adds itself, and leaves when it ends."""
        ...

    @property
    def toxics(self) -> list[Toxic]:
        """The proxy's toxics, in the order they were added."""
        ...

    @property
    def traffic(self) -> Traffic:
        """The proxy's byte counters, which outlive its connections."""
        ...


class _Link:
    """One direction of a connection, with the stages of the toxics that affect it."""

    def __init__(self, conn: Connection, stream: Stream, source: Endpoint, dest: Endpoint) -> None:
        self.conn = conn
        self.stream = stream
        self.source = source
        self.dest = dest
        dest.inbound = self
        self.loop = conn.loop
        self.stages: list[Stage] = []
        self._decided: dict[str, tuple[Toxic, Stage | None]] = {}
        self._queue: deque[tuple[bytes | None, float]] = deque()
        self._queued = 0
        self._wakeup = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._pump: asyncio.Task[None] | None = None
        self._dest_full = False
        self._queue_full = False
        self._source_eof = False
        self.pipe_r: int | None = None
        self.pipe_w: int | None = None
        self.pipe_pending = 0
        self._pipe_room = 0
        traffic = conn.proxy.traffic
        self._received = traffic.received
        self._sent = traffic.sent
        if _SPLICE:
            self._open_pipe()

    def _open_pipe(self) -> None:
        import fcntl  # Linux only, as splice is

        try:
            self.pipe_r, self.pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.pipe_w, _F_SETPIPE_SZ, _PIPE_SIZE)
        try:  # what we really got: filling a pipe past it would spin on EAGAIN
            self._pipe_room = fcntl.fcntl(self.pipe_w, _F_GETPIPE_SZ)
        except OSError:
            self.close_pipe()

    def close_pipe(self) -> None:
        for fd in (self.pipe_r, self.pipe_w):
            if fd is not None:
                os.close(fd)
        self.pipe_r = self.pipe_w = None

    # -- reading the source --------------------------------------------------------

    def start(self) -> None:
        self._sync_reading()

    def _readable(self) -> None:
        if self._pump is None and self.pipe_w is not None and not self.dest.closed:
            room = self._pipe_room - self.pipe_pending
            if room <= 0:
                self._sync_reading()
                return
            try:
                count = os.splice(self.source.fd, self.pipe_w, room, flags=SPLICE_FLAGS)
            except RETRY:
                return
            except OSError as exc:
                if exc.errno == errno.EINVAL and not self.pipe_pending:
                    self.close_pipe()  # not spliceable after all: copy instead
                    self._readable()
                    return
                self.conn.failed(exc)
                return
            if count == 0:
                self._eof()
                return
            self._received[self.stream] += count
            self.pipe_pending += count
            self.dest.write_piped(count)
            return
        try:
            data = self.source.sock.recv(_READ_SIZE)
        except RETRY:
            return
        except OSError as exc:
            self.conn.failed(exc)
            return
        if not data:
            self._eof()
        else:
            self._received[self.stream] += len(data)
            self.feed(data)

    def _eof(self) -> None:
        self._source_eof = True
        self.source.stop_reading()
        if self._pump is None:
            self.dest.write_eof()
        else:
            self._queue.append((None, self.loop.time()))
            self._wakeup.set()

    def feed(self, data: bytes) -> None:
        if self._pump is None:
            self.dest.write(data)
            return
        self._queue.append((data, self.loop.time()))
        self._queued += len(data)
        if self._queued > _HIGH_WATER and not self._queue_full:
            self._queue_full = True
            self._sync_reading()
        self._wakeup.set()

    def count_sent(self, count: int) -> None:
        self._sent[self.stream] += count

    def dest_level(self, pending: int) -> None:
        """The destination's queued output changed: apply backpressure to the source."""
        if pending > _HIGH_WATER and not self._dest_full:
            self._dest_full = True
            self._writable.clear()
        elif pending <= _LOW_WATER and self._dest_full:
            self._dest_full = False
            self._writable.set()
        self._sync_reading()

    def _sync_reading(self) -> None:
        pipe_full = self._pump is None and self.pipe_pending >= self._pipe_room > 0
        if (
            self._dest_full
            or self._queue_full
            or pipe_full
            or self._source_eof
            or self.conn.closing
            or not self.conn.started
        ):
            self.source.stop_reading()
        else:
            self.source.read(self._readable)

    # -- toxics --------------------------------------------------------------------

    def refresh(self, toxics: list[Toxic], rng: random.Random) -> None:
        """Match the stages to ``toxics`` (this stream's, in order)."""
        decided: dict[str, tuple[Toxic, Stage | None]] = {}
        started: list[Stage] = []
        for toxic in toxics:
            old = self._decided.pop(toxic.name, None)
            if old is not None and (old[0].type, old[0].toxicity) == (toxic.type, toxic.toxicity):
                stage = old[1]
                if stage is not None and stage.toxic != toxic:
                    stage.update(toxic)
            else:
                if old is not None and old[1] is not None:
                    old[1].stop()
                stage = None
                if rng.random() < toxic.toxicity:
                    stage = stage_for(toxic, self.conn, rng)
                    started.append(stage)
            decided[toxic.name] = (toxic, stage)
        for _, gone in self._decided.values():
            if gone is not None:
                gone.remove()
        self._decided = decided
        self.stages = [stage for _, stage in decided.values() if stage is not None]
        for stage in started:
            stage.start()
        if self.stages and self._pump is None and not self.conn.closing and not self._source_eof:
            self._pump = self.loop.create_task(self._run())
            self._pump.add_done_callback(self.conn.pump_done)
        self._wakeup.set()

    def stop(self) -> None:
        for stage in self.stages:
            stage.stop()
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    # -- the toxic path ------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if not self.stages:
                    self._pump = None  # back to the fast path; nothing is queued
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            data, at = self._queue.popleft()
            stages = list(self.stages)
            if data is None:
                for stage in stages:
                    await stage.eof()
                self._pump = None
                self.dest.write_eof()
                return
            self._queued -= len(data)
            if self._queue_full and self._queued <= _LOW_WATER:
                self._queue_full = False
                self._sync_reading()
            await self._through(stages, 0, data, at)

    async def _through(self, stages: list[Stage], i: int, data: bytes, at: float) -> None:
        if i == len(stages):
            if not self.conn.closing:
                self.dest.write(data)
                await self._writable.wait()
            return

        async def emit(out: bytes, out_at: float) -> None:
            await self._through(stages, i + 1, out, out_at)

        await stages[i].feed(data, at, emit)


class Connection:
    """A client connection, its upstream connection, and the two links between them."""

    def __init__(self, proxy: Host, client: socket.socket) -> None:
        self.proxy = proxy
        self._loop = proxy.loop
        self.closing = False
        self.started = False
        self.client = Endpoint(self, client)
        self.server: Endpoint | None = None
        self.links: list[_Link] = []
        proxy.connections.add(self)
        self._connecting: asyncio.Task[None] | None = self._loop.create_task(self._connect())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def _connect(self) -> None:
        host, port = self.proxy.upstream_address
        try:
            sock = await open_connection(self._loop, host, port)
        except OSError as exc:
            logger.info(
                "proxy %s: upstream %s:%s unreachable: %s", self.proxy.name, host, port, exc
            )
            self.close()
            return
        self._connecting = None
        if self.closing:
            sock.close()
            return
        self.server = Endpoint(self, sock)
        self.links = [
            _Link(self, "upstream", self.client, self.server),
            _Link(self, "downstream", self.server, self.client),
        ]
        self.refresh()
        self.started = True
        for link in self.links:
            if not self.closing:
                link.start()

    def refresh(self) -> None:
        if self.closing:
            return
        toxics = self.proxy.toxics
        rng = self.proxy.rng
        for link in self.links:
            link.refresh([t for t in toxics if t.stream == link.stream], rng)

    def pump_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("proxy %s: toxic pipeline failed", self.proxy.name, exc_info=error)
            self.abort()

    def half_closed(self) -> None:
        if self.server is not None and self.client.eof_sent and self.server.eof_sent:
            self.close()

    def failed(self, exc: OSError) -> None:
        """A socket operation failed (reset by the peer, broken pipe): drop both sides."""
        self.abort()

    def _sockets(self) -> list[Endpoint]:
        return [s for s in (self.client, self.server) if s is not None]

    def _finish(self) -> bool:
        if self.closing:
            return False
        self.closing = True
        if self._connecting is not None:
            self._connecting.cancel()
        for link in self.links:
            link.stop()
        return True

    def endpoint_closed(self) -> None:
        # A closing connection stays the proxy's until its last socket is closed, so
        # stopping the proxy also drops sockets still flushing after a graceful close.
        if self.closing and all(s.closed for s in self._sockets()):
            self.proxy.connections.discard(self)

    def close(self) -> None:
        """Close both sides after what was queued for them: FIN, not RST."""
        if self._finish():
            for sock in self._sockets():
                sock.close()

    def abort(self) -> None:
        """Drop both sides now, also one still flushing after a graceful close."""
        self._finish()
        for sock in self._sockets():
            sock.abort()

    def reset(self) -> None:
        """Close both sides with RST: each peer reads 'connection reset by peer'."""
        if self._finish():
            for sock in self._sockets():
                sock.reset()
