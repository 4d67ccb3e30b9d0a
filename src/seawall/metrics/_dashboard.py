"""The live dashboard: a page and a server-sent-events stream, fed once a second.

:class:`Dashboard` is an ASGI app answering two paths: ``GET <path>`` is the page (a file
in the package: plain JavaScript and inline SVG, no build step, nothing fetched from
elsewhere), ``GET <path>/stream`` is ``text/event-stream``. Once a second it takes a
snapshot from each of its sources (in process: :func:`seawall.metrics.snapshot_json`;
across instances: each one's ``/seawall``), feeds a :class:`~seawall.metrics._sampler.Sampler`
and sends the resulting view to every stream. Every event is the whole view, sparklines
included, so the first event a page receives already holds the last two minutes: a page
opened in the middle of an incident shows how it started.

Streams are capped (``max_streams``, 8): a dashboard left open on many screens must not
become the load that hurts the service, so one more gets 503 with Retry-After. A stream
ends when its client disconnects, when the process starts draining (a stream never
finishes on its own, and a server shutting down gracefully waits for open responses),
and after ``stream_lifetime`` seconds (30): a server that waits for open responses when
it stops (uvicorn's graceful shutdown) waits no longer than that for an open page. The
page's EventSource reconnects at once and gets the history again.

Sampling runs as one task on the server's asyncio loop, started by the first request (or
the ASGI lifespan startup) and cancelled at lifespan shutdown; under trio the paths answer
503.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError
from seawall.metrics._sampler import Sampler, view
from seawall.metrics._tiles import Reading, TileKey, buckets, readings

if TYPE_CHECKING:
    from seawall.http._asgi import Message, Receive, Scope, Send
    from seawall.http._probes import Health

__all__ = ["Dashboard", "Snapshot", "Source", "in_process", "page"]

logger = logging.getLogger("seawall.metrics")

Snapshot = Mapping[str, Any]
Source = Callable[[], Snapshot | Awaitable[Snapshot]]


def page(stream: str | None, embedded: Mapping[str, Any] | None = None) -> str:
    """The dashboard page, reading events from ``stream`` (a URL path).

    With ``embedded`` (a view) and no stream, the page draws that one view and stays
    still: how a report carries the same tiles in a single file.
    """
    text = resources.files("seawall.metrics").joinpath("dashboard.html").read_text("utf-8")
    config = {"stream": stream, "view": embedded}
    # "</" never appears inside the script element, whatever the names in the view.
    data = json.dumps(config).replace("</", "<\\/")
    return text.replace("/*SEAWALL_CONFIG*/null", data)


def in_process(service: str | None = None) -> Source:
    """This process's snapshot, as a dashboard source."""
    from seawall.metrics._json import snapshot_json

    def take() -> Snapshot:
        return snapshot_json(service)

    return take


class Dashboard:
    """An ASGI app serving the dashboard page at ``path`` and its stream at ``path/stream``.

    ``sources`` maps an instance's label to a callable returning its snapshot (the
    ``/seawall`` JSON), sync or async; one callable is the single instance ``"local"``;
    None samples this process. Taking a snapshot is bounded by ``interval``: an instance
    that answers later counts as not answering that second.
    """

    def __init__(
        self,
        sources: Mapping[str, Source] | Source | None = None,
        *,
        path: str = "/seawall/dashboard",
        interval: float = 1.0,
        size: int = 120,
        window: int = 10,
        max_streams: int = 8,
        stream_lifetime: float = 30.0,
        service: str | None = None,
        health: Health | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/") or path.endswith("/"):
            raise ConfigError(f"dashboard path must start with / and not end with /, got {path!r}")
        if sources is None:
            sources = {"local": in_process(service)}
        elif callable(sources):
            sources = {"local": sources}
        if not isinstance(sources, Mapping) or not sources:
            raise ConfigError(f"sources must map instance names to callables, got {sources!r}")
        for label, source in sources.items():
            if not isinstance(label, str) or not callable(source):
                raise ConfigError(f"sources[{label!r}] must be a callable returning a snapshot")
        for name, value, low in (
            ("interval", interval, 0.0),
            ("stream_lifetime", stream_lifetime, 0.0),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > low:
                raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
        for name, count in (("size", size), ("window", window), ("max_streams", max_streams)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ConfigError(f"{name} must be a positive integer, got {count!r}")
        if window > size:
            raise ConfigError(f"window ({window}) must not exceed size ({size})")
        self.path = path
        self.stream_path = f"{path}/stream"
        self.sources: dict[str, Source] = dict(sources)
        self.interval = float(interval)
        self.window = window
        self.max_streams = max_streams
        self.stream_lifetime = float(stream_lifetime)
        self.service = service
        self.health = health
        self.clock = clock or SYSTEM_CLOCK
        self.sampler = Sampler(size=size)
        self.streams = 0
        self._page: bytes | None = None
        self._event = b""
        self._tick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._bounds: tuple[float, ...] = ()

    # -- sampling -----------------------------------------------------------------------

    async def _take(self, label: str, source: Source) -> dict[TileKey, Reading] | str:
        try:
            async with asyncio.timeout(self.interval):
                snapshot = source()
                if inspect.isawaitable(snapshot):
                    snapshot = await snapshot
        except TimeoutError:
            return f"no snapshot within {self.interval:g}s"
        except Exception as exc:  # one instance down must not stop the others' tiles
            return f"{type(exc).__name__}: {exc}"[:200]
        if not isinstance(snapshot, Mapping):
            return f"not a snapshot: {type(snapshot).__name__}"
        http = snapshot.get("http")
        self._bounds = (buckets(http) if isinstance(http, Mapping) else ()) or self._bounds
        return readings(snapshot)

    async def sample(self) -> None:
        """Take one snapshot from every source and record the second.

        The view is drawn only while a page watches: recording is what must never stop
        (it is the history a page opened later shows at once), drawing is most of the cost.
        """
        labels = list(self.sources)
        taken = await asyncio.gather(*(self._take(label, self.sources[label]) for label in labels))
        # Wall-clock time labels the sample on the page; the clock only paces the loop.
        self.sampler.record(time.time(), dict(zip(labels, taken, strict=True)), self._bounds)
        self._event = b""
        if self.streams:
            self._publish()
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def view(self) -> dict[str, Any]:
        """The view of the samples recorded so far (what each event carries)."""
        return view(self.sampler, window=self.window, service=self.service)

    def _publish(self) -> bytes:
        if not self._event and self.sampler.seconds:
            current = json.dumps(self.view(), separators=(",", ":")).encode()
            self._event = b"data: " + current + b"\n\n"
        return self._event

    async def run(self) -> None:
        """Sample every ``interval`` seconds until cancelled."""
        start = self.clock.now()
        n = 0
        while True:
            try:
                await self.sample()
            except Exception:  # a bug in one second's view must not end the dashboard
                logger.exception("dashboard sample failed")
            n += 1
            await self.clock.asleep(max(start + n * self.interval - self.clock.now(), 0.0))

    def wake(self) -> None:
        """Start sampling on the running asyncio loop, if it is not sampling there already.

        Off asyncio (trio) there is no loop to sample on: the page and stream still
        answer, with no samples.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._tick = asyncio.Event()
        self._task = loop.create_task(self.run())

    async def aclose(self) -> None:
        """Stop sampling; open streams end at their next second."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tick.set()

    # -- ASGI ---------------------------------------------------------------------------

    def serves(self, path: str) -> bool:
        """Whether ``path`` is the page or the stream."""
        return path == self.path or path == self.stream_path

    def lifespan(self, receive: Receive) -> Receive:
        """``receive`` for a lifespan scope: sampling starts at startup, stops at shutdown."""

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.wake()
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return watched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan_only(receive=self.lifespan(receive), send=send)
            return
        if scope["type"] != "http":
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # trio: no loop to sample on, nor to stream from
            await _plain(send, 503, b"the dashboard needs an asyncio server\n")
            return
        self.wake()
        path = scope["path"]
        if not self.serves(path):
            await _plain(send, 404, b"not found\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
        elif path == self.path:
            if self._page is None:
                self._page = page(self.stream_path).encode()
            await _plain(send, 200, self._page, content_type=b"text/html; charset=utf-8")
        elif self.streams >= self.max_streams:
            await _plain(
                send,
                503,
                f"at most {self.max_streams} dashboard streams at once\n".encode(),
                [(b"retry-after", b"5")],
            )
        else:
            self.streams += 1
            try:
                await self._stream(scope, receive, send)
            finally:
                self.streams -= 1

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # proxies must pass each event on at once
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        gone = asyncio.ensure_future(_disconnected(receive))
        ends = self.clock.now() + self.stream_lifetime
        try:
            # How long the page waits before reconnecting, then the history at once.
            await _more(send, b"retry: 1000\n\n")
            if self._publish():
                await _more(send, self._event)
            while not gone.done() and self.clock.now() < ends and self._task is not None:
                if self.health is not None and self.health.is_draining:
                    break
                tick = asyncio.ensure_future(self._tick.wait())
                await asyncio.wait({tick, gone}, return_when=asyncio.FIRST_COMPLETED)
                tick.cancel()
                if gone.done():
                    return
                if self._publish():
                    await _more(send, self._event)
            await send({"type": "http.response.body", "body": b""})
        except OSError:  # the client went away mid-write
            return
        finally:
            gone.cancel()


async def _more(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _lifespan_only(*, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _plain(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_type: bytes = b"text/plain; charset=utf-8",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-cache"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
