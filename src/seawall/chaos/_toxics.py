"""What each toxic does to one stream of one connection.

A :class:`Stage` is one toxic at work on one direction of one proxied connection
(Toxiproxy's ``ToxicStub`` plus the toxic's ``Pipe``). The stages of a direction form a
pipeline: each is fed chunks of bytes with the time they reached it, and passes on
(``emit``) what it lets through, when it lets it through. A stage may also close or reset
the whole connection. Only connections that a toxic affects (``toxicity``) get a stage;
a direction without stages forwards bytes with no Python work per chunk at all.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from seawall.chaos._spec import Toxic

__all__ = ["Emit", "Stage", "Target", "slice_sizes", "stage_for"]

Emit = Callable[[bytes, float], Awaitable[None]]
"""Pass ``data`` on to the next stage, stamped with the loop time it left this one."""


class Target(Protocol):
    """The connection a stage acts on."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def close(self) -> None:
        """Close both sides gracefully (FIN), after what was already written."""
        ...

    def reset(self) -> None:
        """Reset both sides (RST): peers see 'connection reset by peer'."""
        ...


def slice_sizes(total: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Sizes of the pieces a slicer cuts ``total`` bytes into.

    Each piece is drawn uniformly from ``[max(1, average - variation), average +
    variation]``; the last one takes what is left, so the sizes always sum to ``total``.
    """
    if total <= 0:
        return []
    low, high = max(1, average - variation), max(1, average + variation)
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(left, rng.randint(low, high))
        sizes.append(size)
        left -= size
    return sizes


async def _sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class Stage:
    """A toxic that lets everything through unchanged; subclasses add the fault."""

    def __init__(self, toxic: Toxic, target: Target, rng: random.Random) -> None:
        self.toxic = toxic
        self.target = target
        self.rng = rng
        self.loop = target.loop
        self._removed = asyncio.Event()

    def start(self) -> None:
        """The toxic now acts on this connection (connection opened, or toxic added)."""

    def update(self, toxic: Toxic) -> None:
        """The toxic's attributes or toxicity changed while it was acting."""
        self.toxic = toxic

    def stop(self) -> None:
        """The toxic no longer acts here: release anything held back for it."""
        self._removed.set()

    def remove(self) -> None:
        """The toxic was removed from the proxy (not just replaced on this connection)."""
        self.stop()

    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        await emit(data, at)

    async def eof(self) -> None:
        """The source closed its side; returning lets the close travel on."""


class _Latency(Stage):
    # Delay relative to when the chunk arrived, as Toxiproxy does, so a stream of chunks
    # is shifted in time rather than slowed to one chunk per delay.
    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        delay = float(self.toxic["latency"])
        jitter = self.toxic["jitter"]
        if jitter:
            delay += self.rng.uniform(-jitter, jitter)
        due = at + max(delay, 0.0) / 1000.0
        await _sleep_until(self.loop, due)
        await emit(data, max(due, self.loop.time()))


class _Bandwidth(Stage):
    def __init__(self, toxic: Toxic, target: Target, rng: random.Random) -> None:
        super().__init__(toxic, target, rng)
        self._due = 0.0

    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        rate = self.toxic["rate"] * 1000  # Toxiproxy's KB is 1000 bytes
        if rate <= 0:
            await emit(data, at)
            return
        # Pieces of at most 100 ms worth keep a slow stream smooth, as in Toxiproxy. The
        # schedule is absolute, so time spent emitting is not added on top of the rate.
        piece = max(1, rate // 10)
        view = memoryview(data)
        for start in range(0, len(data), piece):
            part = bytes(view[start : start + piece])
            self._due = max(self._due, self.loop.time()) + len(part) / rate
            await _sleep_until(self.loop, self._due)
            await emit(part, self.loop.time())


class _SlowClose(Stage):
    async def eof(self) -> None:
        await asyncio.sleep(self.toxic["delay"] / 1000.0)


class _Timeout(Stage):
    # A blackhole: nothing gets through; with a timeout the connection is closed that
    # many ms after the toxic took effect on it. As in Toxiproxy, the connection is
    # closed when the toxic is removed, because the bytes it dropped leave a hole in
    # the stream: carrying on would let a client (Redis, MySQL, keep-alive HTTP) pair
    # a request with the wrong response. A close by the peer during the blackhole
    # closes the connection too, as Toxiproxy does.
    _timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        timeout = self.toxic["timeout"]
        if timeout > 0:
            self._timer = self.loop.call_later(timeout / 1000.0, self.target.close)

    def update(self, toxic: Toxic) -> None:
        changed = toxic["timeout"] != self.toxic["timeout"]
        super().update(toxic)
        if changed:
            self._cancel()
            self.start()

    def stop(self) -> None:
        self._cancel()
        super().stop()

    def remove(self) -> None:
        self.stop()
        self.target.close()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        return None  # dropped

    async def eof(self) -> None:
        self.target.close()


class _ResetPeer(Stage):
    # As Toxiproxy: the first data in this direction starts the timer, then the
    # connection is reset; nothing is let through meanwhile.
    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        try:
            await asyncio.wait_for(self._removed.wait(), self.toxic["timeout"] / 1000.0)
        except TimeoutError:
            self.target.reset()
            return
        await emit(data, at)  # removed while waiting: the data goes through after all


class _Slicer(Stage):
    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        attrs = self.toxic.attributes
        delay = attrs["delay"] / 1_000_000.0
        view = memoryview(data)
        offset = 0
        for i, size in enumerate(
            slice_sizes(len(data), attrs["average_size"], attrs["size_variation"], self.rng)
        ):
            if i and delay:
                await asyncio.sleep(delay)
            await emit(bytes(view[offset : offset + size]), at)
            offset += size


class _LimitData(Stage):
    def __init__(self, toxic: Toxic, target: Target, rng: random.Random) -> None:
        super().__init__(toxic, target, rng)
        self._sent = 0

    def start(self) -> None:
        if self.toxic["bytes"] <= 0:
            self.loop.call_soon(self.target.close)

    async def feed(self, data: bytes, at: float, emit: Emit) -> None:
        left = self.toxic["bytes"] - self._sent
        if len(data) < left:
            self._sent += len(data)
            await emit(data, at)
            return
        if left > 0:
            self._sent += left
            await emit(data[:left], at)
        self.target.close()


_STAGES: dict[str, type[Stage]] = {
    "latency": _Latency,
    "bandwidth": _Bandwidth,
    "slow_close": _SlowClose,
    "timeout": _Timeout,
    "reset_peer": _ResetPeer,
    "slicer": _Slicer,
    "limit_data": _LimitData,
    "noop": Stage,
}


def stage_for(toxic: Toxic, target: Target, rng: random.Random) -> Stage:
    """A new, not yet started stage of ``toxic`` on ``target``."""
    return _STAGES[toxic.type](toxic, target, rng)
