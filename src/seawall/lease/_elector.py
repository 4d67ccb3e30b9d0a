"""LeaderElector and AsyncLeaderElector: the thread and asyncio shells around :class:`Election`.

A shell only waits and does I/O. It asks the election when to wake up, runs one backend
attempt at a time, and — because a leader must stop acting at the end of its term even
while a request to the store hangs — waits on the attempt *and* on the term's end, so
``on_stopped_leading`` fires on time whatever the backend does. :meth:`is_leader` does
not depend on the shell at all: it compares the clock with the term's end, so it turns
false at that instant even if the elector's thread is starved.

Callbacks run on the elector's own thread (or task), in order, and must return quickly:
start long work elsewhere and stop it from ``on_stopped_leading``. A callback that raises
is logged and ignored; it cannot change the election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Generic, TypeVar

from seawall._catalog import enroll
from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import seconds_of
from seawall.lease._backend import AsyncLeaseBackend, LeaseBackend
from seawall.lease._election import (
    Election,
    Leadership,
    LeadershipChange,
    LeaseTiming,
    Step,
    StopReason,
)

__all__ = ["AsyncLeaderElector", "LeaderElector", "default_identity"]

logger = logging.getLogger("seawall")

B = TypeVar("B")

OnStarted = Callable[[Leadership], object]
OnStopped = Callable[[Leadership, StopReason], object]
OnNewLeader = Callable[[str | None], object]

# How long a waiter gives a stale leadership signal to be cleared before it looks again.
_SLICE = 0.001

# What the campaign asks a shell to do: (what, seconds or the attempt's timeout, attempt).
_PARK, _ATTEMPT, _SETTLE, _RELEASE = 0, 1, 2, 3
Op = tuple[int, float | None, Any]
Campaign = Generator[Op, Any, None]


def _resume(flow: Campaign, reply: Any, error: BaseException | None) -> Op | None:
    """Hand the campaign what its last request gave (or raised): its next one, or None."""
    try:
        return flow.send(reply) if error is None else flow.throw(error)
    except StopIteration:
        return None


def default_identity() -> str:
    """``host-pid-random``: unique per elector, readable in the store."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class _Shell(Generic[B]):
    """What both shells share: configuration, the election, queries and callbacks."""

    def __init__(
        self,
        backend: B,
        *,
        identity: str | None = None,
        name: str = "leader",
        lease_duration: float | timedelta = 15.0,
        renew_deadline: float | timedelta = 10.0,
        retry_period: float | timedelta = 2.0,
        clock_drift_margin: float | timedelta | None = None,
        on_started_leading: OnStarted | None = None,
        on_stopped_leading: OnStopped | None = None,
        on_new_leader: OnNewLeader | None = None,
        release_on_stop: bool = True,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.backend = backend
        self.identity = identity or default_identity()
        self.name = name
        self.timing = LeaseTiming(
            seconds_of(lease_duration, "lease_duration"),
            seconds_of(renew_deadline, "renew_deadline"),
            seconds_of(retry_period, "retry_period"),
            None
            if clock_drift_margin is None
            else seconds_of(clock_drift_margin, "clock_drift_margin"),
        )
        self._clock = clock or SYSTEM_CLOCK
        self._election = Election(self.timing, self.identity, name, rng or random.Random())
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._release_on_stop = release_on_stop
        self._release_due = False
        self._stopping = False
        # Terms started and ended here: a plain counter, read by the metrics collectors.
        self.transitions = 0
        self._prepare()
        enroll(self)

    def _prepare(self) -> None:
        """The shell's own state (its wake-up signal, thread or task)."""
        raise NotImplementedError

    def _apply(self, step: Step) -> None:
        raise NotImplementedError

    def _campaign(self) -> Generator[Op, Any, None]:
        """The campaign, written once: the election's decisions and the I/O they ask for.

        It yields what a shell must do — park until woken or until so long has passed,
        start one backend attempt, let a pending attempt end, release the session — and
        is sent back what that gave (the started attempt). Each shell only does those
        things its own way (a thread and a pool, or a task). When it stops, for any
        reason, leadership ends first (``on_stopped_leading`` on time), then the pending
        attempt is let end, then the session is released.
        """
        clock, election = self._clock, self._election
        pending: Any = None
        closed = False  # abandoned by its shell (a task destroyed): no more I/O to ask for
        try:
            while not self._stopping:
                self._apply(election.expire(clock.now()))
                if self._release_due:
                    yield (_RELEASE, None, None)
                now = clock.now()
                wake_at = election.next_wakeup()
                if now < wake_at:
                    yield (_PARK, wake_at - now, None)
                    continue
                started = now
                pending = yield (_ATTEMPT, election.begin_attempt(started), None)
                while not pending.done() and not self._stopping:
                    end = election.term_end()
                    yield (_PARK, None if end is None else end - clock.now(), pending)
                    self._apply(election.expire(clock.now()))
                if not pending.done():
                    break
                try:
                    seen = pending.result()
                except Exception as exc:
                    self._apply(election.failed(started, clock.now(), exc))
                else:
                    self._apply(election.observed(started, clock.now(), seen))
                pending = None
        except GeneratorExit:
            closed = True
            raise
        finally:
            self._apply(election.stop(clock.now(), release=self._release_on_stop))
            if pending is not None and not closed:
                # The backend is not used twice at once: the attempt ends before release.
                yield (_SETTLE, None, pending)
            if self._release_due and not closed:
                yield (_RELEASE, None, None)

    def is_leader(self) -> bool:
        """Whether this elector may act as leader now; false the instant that is not certain."""
        return self._election.is_leader(self._clock.now())

    def leadership(self) -> Leadership | None:
        """The current term (identity, fencing token, start, end), or ``None``."""
        return self._election.leadership(self._clock.now())

    @property
    def token(self) -> int | None:
        """The fencing token of the current term, or ``None`` when not leader."""
        term = self.leadership()
        return None if term is None else term.token

    @property
    def holder(self) -> str | None:
        """The identity last seen holding the election key (maybe this elector's own)."""
        return self._election.holder

    def _callbacks(self, step: Step) -> None:
        for change in step.changes:
            self.transitions += 1
            try:
                if change.kind == "started" and self._on_started is not None:
                    self._on_started(change.leadership)
                elif change.kind == "stopped" and self._on_stopped is not None:
                    assert change.reason is not None
                    self._on_stopped(change.leadership, change.reason)
            except Exception:
                logger.exception("leader election %r: %s callback failed", self.name, change.kind)
        if step.holder_changed and self._on_new_leader is not None:
            try:
                self._on_new_leader(step.new_holder)
            except Exception:
                logger.exception("leader election %r: on_new_leader callback failed", self.name)
        if step.release:
            self._release_due = True

    def _describe(self) -> str:
        t = self.timing
        return (
            f"{type(self).__name__}({self.name!r}, identity={self.identity!r}, "
            f"lease_duration={t.lease_duration}, renew_deadline={t.renew_deadline}, "
            f"retry_period={t.retry_period}, leader={self.is_leader()})"
        )

    __repr__ = _describe


class LeaderElector(_Shell[LeaseBackend]):
    """Leader election on a thread: ``start()``/``stop()`` or ``with elector:``.

    ``backend`` is a :class:`~seawall.lease.LeaseBackend` (etcd, Redis, memory). The
    elector campaigns until stopped: after losing a term it campaigns again, and every
    term it wins carries a higher fencing token. Pass the token with every write to a
    :class:`~seawall.lease.FencedStore`; :meth:`is_leader` alone cannot stop a write that
    was already on its way when leadership ended.
    """

    def _prepare(self) -> None:
        self._wake = threading.Event()
        self._leading = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaderElector:
        """Start campaigning on a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError(f"leader elector {self.name!r} was already started")
        self._thread = threading.Thread(
            target=self._run, name=f"seawall-elector-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop leading (``on_stopped_leading`` with reason ``"stopped"``), release, and join."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> LeaderElector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_leadership(self, timeout: float | None = None) -> Leadership | None:
        """Block until this elector leads (returns the term) or ``timeout`` passes (``None``)."""
        clock = self._clock
        until = None if timeout is None else clock.now() + timeout
        while True:
            term = self.leadership()
            if term is not None:
                return term
            left = None if until is None else until - clock.now()
            if (left is not None and left <= 0) or self._stopping:
                return None
            clock.wait(self._leading, left)
            if self._leading.is_set() and self.leadership() is None:
                # Stale signal from a term that already ended: wait for the next one.
                clock.wait(self._wake, _SLICE)

    def _apply(self, step: Step) -> None:
        self._callbacks(step)
        if self.is_leader():
            self._leading.set()
        else:
            self._leading.clear()

    def _park(self, timeout: float | None) -> None:
        self._clock.wait(self._wake, timeout)
        self._wake.clear()

    def _release(self) -> None:
        self._release_due = False
        try:
            self.backend.release(self.timing.attempt_limit)
        except Exception as exc:
            logger.info("leader election %r: release failed: %r", self.name, exc)

    def _run(self) -> None:
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"seawall-lease-{self.name}")
        flow = self._campaign()
        try:
            op = _resume(flow, None, None)
            while op is not None:
                try:
                    reply, error = self._do(op, pool), None
                except BaseException as exc:
                    reply, error = None, exc
                op = _resume(flow, reply, error)
        except BaseException:
            logger.exception("leader election %r: elector thread failed", self.name)
            raise
        finally:
            pool.shutdown(wait=False)
            self._leading.set()  # wake wait_for_leadership(); it sees the stop
            self._wake.set()

    def _do(self, op: Op, pool: ThreadPoolExecutor) -> Any:
        """One request of the campaign, on this thread."""
        what, seconds, pending = op
        if what == _PARK:
            self._park(seconds)  # an attempt ending sets the wake-up signal itself
        elif what == _ATTEMPT:
            assert seconds is not None  # an attempt always has its timeout
            attempt = pool.submit(
                self.backend.try_acquire_or_renew,
                self.identity,
                self.timing.lease_duration,
                seconds,
            )
            attempt.add_done_callback(lambda _: self._wake.set())
            return attempt
        elif what == _SETTLE:
            with contextlib.suppress(Exception):  # its timeout bounds it
                pending.result(timeout=self.timing.attempt_limit + 1.0)
        else:
            self._release()
        return None


class AsyncLeaderElector(_Shell[AsyncLeaseBackend]):
    """Leader election as an asyncio task: ``async with elector:`` or ``await start()``.

    Besides the callbacks, :meth:`changes` yields every started/stopped change in order.
    """

    def _prepare(self) -> None:
        self._task: asyncio.Task[None] | None = None
        # Resolved to wake the campaign (closing, an attempt done); renewed once seen.
        self._wake: asyncio.Future[None] | None = None
        self._subscribers: list[asyncio.Queue[LeadershipChange | None]] = []
        self._closed = False

    async def start(self) -> AsyncLeaderElector:
        """Start campaigning in a task on the running loop; returns ``self``."""
        if self._task is not None:
            raise RuntimeError(f"leader elector {self.name!r} was already started")
        self._wake = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"seawall-elector-{self.name}")
        return self

    async def aclose(self) -> None:
        """Stop leading (reason ``"stopped"``), release, and end every :meth:`changes`."""
        self._stopping = True
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        if self._task is not None:
            await asyncio.shield(self._task)

    async def __aenter__(self) -> AsyncLeaderElector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def changes(self) -> AsyncGenerator[LeadershipChange, None]:
        """Every change from now on, in order; starts with the current term if leading.

        The iteration ends when the elector is closed (after its final "stopped").
        """
        queue: asyncio.Queue[LeadershipChange | None] = asyncio.Queue()
        term = self.leadership()
        if term is not None:
            queue.put_nowait(LeadershipChange("started", term))
        if self._closed:
            queue.put_nowait(None)
        else:
            self._subscribers.append(queue)
        return self._drain(queue)

    async def _drain(
        self, queue: asyncio.Queue[LeadershipChange | None]
    ) -> AsyncGenerator[LeadershipChange, None]:
        try:
            while (change := await queue.get()) is not None:
                yield change
        finally:
            if queue in self._subscribers:
                self._subscribers.remove(queue)

    async def wait_for_leadership(self) -> Leadership | None:
        """Wait until this elector leads and return the term; ``None`` if it is closed first.

        Bound the wait the asyncio way: ``async with asyncio.timeout(5): ...``.
        """
        changes = self.changes()
        try:
            async for change in changes:
                if change.kind == "started" and (term := self.leadership()) is not None:
                    return term
        finally:
            await changes.aclose()
        return None

    def _apply(self, step: Step) -> None:
        self._callbacks(step)
        for change in step.changes:
            for queue in self._subscribers:
                queue.put_nowait(change)

    async def _park(self, limit: float | None, task: asyncio.Future[Any] | None = None) -> None:
        """Wait on the clock until woken (closing), ``task`` ends, or ``limit`` passes."""
        woken = self._wake
        assert woken is not None

        def settle(_: asyncio.Future[Any]) -> None:
            if not woken.done():
                woken.set_result(None)

        if task is not None:
            task.add_done_callback(settle)
        try:
            await self._clock.wait_future(woken, limit)
        finally:
            if task is not None:
                task.remove_done_callback(settle)
            if woken.done():
                self._wake = asyncio.get_running_loop().create_future()

    async def _release(self) -> None:
        self._release_due = False
        try:
            await self.backend.release(self.timing.attempt_limit)
        except Exception as exc:
            logger.info("leader election %r: release failed: %r", self.name, exc)

    async def _run(self) -> None:
        flow = self._campaign()
        try:
            op = _resume(flow, None, None)
            while op is not None:
                try:
                    reply, error = await self._do(op), None
                except BaseException as exc:
                    reply, error = None, exc
                op = _resume(flow, reply, error)
        finally:
            self._closed = True
            for queue in self._subscribers:
                queue.put_nowait(None)

    async def _do(self, op: Op) -> Any:
        """One request of the campaign, in this task."""
        what, seconds, pending = op
        if what == _PARK:
            await self._park(seconds, pending)
        elif what == _ATTEMPT:
            assert seconds is not None  # an attempt always has its timeout
            return asyncio.ensure_future(
                self.backend.try_acquire_or_renew(
                    self.identity, self.timing.lease_duration, seconds
                )
            )
        elif what == _SETTLE:
            if not pending.done():
                pending.cancel()
                await asyncio.wait({pending})
        else:
            await self._release()
        return None
