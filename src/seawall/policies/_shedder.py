"""Priority load shedding over a fixed or adaptive concurrency limit.

When a service is overloaded the choice is not *whether* to fail requests but *which*:
shed the least important first, and fail them fast, so that the work that is admitted
still finishes in normal time: partial service is better than a total outage.

Admission is a pure state machine, :class:`AdmissionState` (:mod:`._admission`), fed clock readings:

- **Priority shares.** critical > high > normal > low. Each non-critical priority may only
  use a share of the current limit (high 100 %, normal 80 %, low 50 % by default), so as
  in-flight work grows, low is refused first, then normal, then high. Critical is refused
  only at the hard maximum (``max_concurrent``).
- **A bounded wait queue with CoDel-style sojourn.** A call that cannot start at once
  waits, served highest priority first. A short queue absorbs bursts, but a queue that
  never drains only adds latency ("bufferbloat"). Following Facebook's adaptive CoDel
  ("Fail at Scale", ACM Queue 2015): while the queue has emptied within the last
  ``queue_interval`` (100 ms), a waiter may wait that long; once it has stayed non-empty
  longer — a *standing* queue — new waiters wait at most ``queue_target`` (5 ms), and a
  waiter that already waited longer is shed when it reaches the front. As in fq_codel,
  each priority has its own queue and its own standing state: low-priority work that
  cannot start does not make a passing burst of critical work "standing". With
  ``lifo=True`` a standing queue is served newest first (adaptive LIFO), so the calls
  most likely to still have a caller waiting go first.
- **An adaptive limit** (:mod:`seawall.policies._limits`), fed one sample per finished call.

A full queue makes room for a more important call by shedding its least important,
newest waiter. The state machine keeps one invariant after every step — no queued waiter
could start now — which is what makes shedding monotone in priority: at any instant, if
a priority is refused, every lower priority is refused too.

Refusals raise :class:`~seawall.LoadShed` with the priority and a ``retry_after`` (the
smoothed round-trip time: about when a slot frees) and emit :class:`~seawall.Event`
``CallRejected``. The lock guarding the state is never held across the protected call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any, Final

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._deadline import remaining
from seawall._errors import ConfigError, LoadShed, Rejected
from seawall._events import CallRejected, Event
from seawall._gate import Park, Wait, admit_async, admit_sync
from seawall._priority import current_priority, rank_of
from seawall._validate import count, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._admission import GRANTED, QUEUED, AdmissionState, Waiter
from seawall.policies._base import Policy
from seawall.policies._limits import FixedLimit, Limit
from seawall.wire import PRIORITIES

__all__ = ["AdmissionState", "LoadShedder", "ShedderStats"]


DEFAULT_SHARES: Final[Mapping[str, float]] = {"high": 1.0, "normal": 0.8, "low": 0.5}


@dataclass(frozen=True, slots=True)
class ShedderStats:
    """A snapshot of a load shedder: limits, occupancy and per-priority counts."""

    limit: int
    max_concurrent: int
    inflight: int
    queued: int
    standing_queue: bool
    admitted: Mapping[str, int]
    shed: Mapping[str, int]
    smoothed_rtt: float | None
    # Of ``admitted``, the calls that waited in the queue first.
    admitted_after_queue: Mapping[str, int] = field(default_factory=dict)


def _wake(waiters: list[Waiter]) -> None:
    for waiter in waiters:
        waiter.wake()


def _is_drop(exc: BaseException | None) -> bool | None:
    """True for overload signals, False for success, None for errors that say nothing."""
    if exc is None:
        return False
    if isinstance(exc, (TimeoutError, Rejected)):
        return True
    return None


class LoadShedder(Policy):
    """Admit calls by priority under a concurrency limit; shed the rest fast.

    ``limit`` is an ``int`` (a :class:`FixedLimit`) or an adaptive limit such as
    :class:`GradientLimit` or :class:`AIMDLimit`. ``max_concurrent``, the hard maximum
    that only critical calls may reach, defaults to the limit's ``max_limit``;
    ``max_queue`` defaults to ``max_concurrent``. ``shares`` overrides the fraction of
    the limit that high, normal and low calls may fill.

    Forms: ``with shedder.admit("high"):`` / ``async with shedder.admit("high"):``, and,
    like every policy, ``shedder.call(fn)``, ``await shedder.acall(afn)``, ``@shedder`` and
    :class:`~seawall.Pipeline` membership, which take the priority from
    :func:`seawall.priority` scopes (``default_priority`` outside one).
    """

    __slots__ = (
        "_clock",
        "_default_rank",
        "_events",
        "_fixed",
        "_lock",
        "_state",
        "_thresholds",
        "name",
    )

    def __init__(
        self,
        name: str = "default",
        *,
        limit: int | Limit = 100,
        max_concurrent: int | None = None,
        max_queue: int | None = None,
        queue_target: float | timedelta = 0.005,
        queue_interval: float | timedelta = 0.100,
        lifo: bool = False,
        shares: Mapping[str, float] | None = None,
        default_priority: str = "normal",
        clock: Clock | None = None,
    ) -> None:
        if isinstance(limit, Limit):
            limit_obj: Limit = limit
        elif isinstance(limit, int) and not isinstance(limit, bool):
            limit_obj = FixedLimit(limit)
        else:
            raise ConfigError(f"limit must be an int or a seawall Limit, got {limit!r}")
        hard_max = (
            limit_obj.max_limit
            if max_concurrent is None
            else count(max_concurrent, "max_concurrent")
        )
        if hard_max < limit_obj.max_limit:
            raise ConfigError(
                f"max_concurrent ({hard_max}) must be at least the limit's maximum "
                f"({limit_obj.max_limit}): critical calls may use at least what others may"
            )
        queue = hard_max if max_queue is None else count(max_queue, "max_queue", minimum=0)
        queue_target = seconds(queue_target, "queue_target", positive=True, infinite=False)
        queue_interval = seconds(queue_interval, "queue_interval", positive=True, infinite=False)
        if not queue_target <= queue_interval:
            raise ConfigError(
                "queue_target must be positive and at most queue_interval, got "
                f"target={queue_target!r}, interval={queue_interval!r}"
            )
        if not isinstance(lifo, bool):  # "false" would be true
            raise ConfigError(f"lifo must be True or False, got {lifo!r}")
        if shares is not None and not isinstance(shares, Mapping):
            raise ConfigError(f"shares must be a mapping of priority to fraction, got {shares!r}")
        merged = dict(DEFAULT_SHARES)
        for key, value in (shares or {}).items():
            if key not in merged:
                raise ConfigError(f"shares are for high, normal and low; got {key!r}")
            merged[key] = real(value, f"shares[{key!r}]", low=0.0, high=1.0, low_open=True)
        share_tuple = (merged["high"], merged["normal"], merged["low"])
        if not all(0.0 < s <= 1.0 for s in share_tuple) or sorted(
            share_tuple, reverse=True
        ) != list(share_tuple):
            raise ConfigError(
                "shares must lie in (0, 1] and not grow as priority falls "
                f"(high >= normal >= low), got {merged}"
            )
        self.name = policy_name(name)
        # A fixed limit learns nothing from samples: skip feeding it on every release.
        self._fixed = type(limit_obj) is FixedLimit
        self._default_rank = rank_of(default_priority)
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._events: list[Event] = []  # what it decided, emitted by the driver
        self._state = AdmissionState(
            limit_obj,
            max_concurrent=hard_max,
            shares=share_tuple,
            max_queue=queue,
            queue_target=queue_target,
            queue_interval=queue_interval,
            lifo=lifo,
        )
        # A fixed limit's per-priority thresholds never move: computed once, not per call.
        self._thresholds = (
            tuple(self._state.threshold(rank) for rank in range(len(PRIORITIES)))
            if self._fixed
            else None
        )

    # -- forms -----------------------------------------------------------------------

    def admit(self, priority: str | None = None) -> Admission:
        """A permit for one call (``with`` or ``async with``); refusal raises LoadShed."""
        if priority is None:
            priority = current_priority()
        rank = self._default_rank if priority is None else rank_of(priority)
        return Admission(self, rank)

    def statistics(self) -> ShedderStats:
        """A frozen snapshot of the current state."""
        now = self._clock.now()
        with self._lock:
            state = self._state
            return ShedderStats(
                limit=state.limit.limit,
                max_concurrent=state.max_concurrent,
                inflight=state.inflight,
                queued=state.queued,
                standing_queue=any(state.standing(now, rank) for rank in range(len(PRIORITIES))),
                admitted=dict(zip(PRIORITIES, state.admitted, strict=True)),
                shed=dict(zip(PRIORITIES, state.shed, strict=True)),
                smoothed_rtt=state.smoothed_rtt,
                admitted_after_queue=dict(zip(PRIORITIES, state.admitted_after_queue, strict=True)),
            )

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return self._state.limit.limit

    # -- the gate core (run by seawall._gate) -----------------------------------------

    def _refusal(self, rank: int, reason: str, now: float) -> LoadShed:
        """The refusal to raise; its CallRejected event is recorded for the driver."""
        retry_after = self._state.retry_after()
        priority = PRIORITIES[rank]
        self._events.append(
            CallRejected(
                policy="load_shedder",
                name=self.name,
                at=now,
                reason=f"{priority}: {reason}",
                retry_after=retry_after,
            )
        )
        return LoadShed(
            self.name,
            f"load shedder {self.name!r} shed a {priority} call: {reason}",
            priority=priority,
            retry_after=retry_after,
        )

    def _ticket(self, rank: int) -> Any:
        """What an admitted call hands back on leaving: its rank, or its limit's sample."""
        if self._fixed:
            return rank  # a fixed limit takes no samples: no clock reading needed
        return (rank, self._clock.now(), self._state.inflight)

    def _enter(self, park: Park) -> Any:
        """Admit a call at the current priority (a ticket), queue it (a Wait) or refuse it."""
        priority = current_priority()
        return self._enter_rank(self._default_rank if priority is None else rank_of(priority), park)

    def _enter_rank(self, rank: int, park: Park) -> Any:
        if self.enter_now(rank):
            return self._ticket(rank)
        max_wait = remaining()
        now = self._clock.now()
        waiting: Wait | None = None
        with self._lock:
            state = self._state
            admitted, wait, evicted = state.try_admit(rank, now, max_wait)
            if admitted:
                pass
            elif wait <= 0.0:
                state.refuse(rank)
            else:
                waiting = park()
                waiting.seconds = wait
                waiting.waiter = Waiter(rank, now, waiting.wake)
                state.enqueue(waiting.waiter)
        _wake(evicted)
        if admitted:
            return self._ticket(rank)
        if waiting is None:
            full = "no queue room" if max_wait is None or max_wait > 0 else "deadline passed"
            return self._refusal(rank, f"at the limit with {full}", now)
        return waiting

    def _waited(self, wait: Wait, woken: bool) -> Any:
        """After a queue wait: the ticket if the slot was granted, else the refusal."""
        waiter: Waiter = wait.waiter
        if not (woken and waiter.state == GRANTED):
            # The wait ran out without a wake-up: leave the queue, unless the slot was
            # granted in the meantime.
            now = self._clock.now()
            reason = "waited its whole queue time"
            with self._lock:
                if waiter.state == QUEUED:
                    woken_up = self._state.abandon(waiter, now, reason)
                else:
                    woken_up = []
                granted = waiter.state == GRANTED
            _wake(woken_up)
            if not granted:
                return self._refusal(waiter.rank, waiter.reason or reason, now)
        return self._ticket(waiter.rank)

    def _abandon(self, wait: Wait) -> None:
        """The waiting caller is gone: drop its place, or hand on a slot it was granted."""
        now = self._clock.now()
        with self._lock:
            woken = self._state.abandon(wait.waiter, now, "cancelled")
        _wake(woken)

    def _leave(self, ticket: Any, exc: BaseException | None) -> None:
        """Give back an admitted call's slot; an adaptive limit learns from its round trip."""
        if self._fixed:
            self.leave_now()
            return
        _rank, started, inflight = ticket
        now = self._clock.now()
        dropped = _is_drop(exc)
        with self._lock:
            if dropped is None:
                woken = self._state.release(now)
            else:
                woken = self._state.release(
                    now, rtt=now - started, inflight=inflight, dropped=dropped
                )
        if woken:
            _wake(woken)

    @property
    def fixed(self) -> bool:
        """Whether the limit is fixed: its permits take no samples (see :meth:`enter_now`)."""
        return self._fixed

    def enter_now(self, rank: int) -> bool:
        """Take a permit for a call of ``rank`` if there is room below its share, at once.

        The common case, for edges that hold no :class:`Admission` per request: with a
        fixed limit a permit taken here is given back with :meth:`leave_now`. The step
        (one compare and increment of :class:`AdmissionState`'s counters) is written out
        under one bound acquire/release: it runs on every request of every edge, where a
        further frame or a ``with`` block costs about as much as the decision itself.
        """
        state = self._state
        fixed = self._thresholds
        # Read before taking the lock: nothing between acquire and release can raise.
        threshold = fixed[rank] if fixed is not None else state.threshold(rank)
        admitted = state.admitted
        lock = self._lock
        lock.acquire()
        if state.inflight < threshold:
            state.inflight += 1
            admitted[rank] += 1
            lock.release()
            return True
        lock.release()
        return False

    def leave_now(self) -> None:
        """Give back a permit without a sample (fixed limits): no clock unless work queued.

        Written out under the lock as :meth:`enter_now`; queued calls that may now start
        are started by :meth:`AdmissionState.drain`.
        """
        state = self._state
        lock = self._lock
        lock.acquire()
        state.inflight -= 1
        if not state.queued:
            lock.release()
            return
        try:
            woken = state.drain(self._clock.now())
        finally:
            lock.release()
        _wake(woken)

    def __repr__(self) -> str:
        state = self._state
        return (
            f"LoadShedder({self.name!r}, limit={state.limit!r}, "
            f"max_concurrent={state.max_concurrent}, max_queue={state.max_queue})"
        )


class Admission:
    """One call's permit from a :class:`LoadShedder` (``with`` / ``async with``).

    On exit the slot is released and the call's round trip fed to the limit: a success
    as a sample, a timeout or downstream refusal as a drop; other errors say nothing about
    load and are not sampled.
    """

    __slots__ = ("_rank", "_shedder", "_ticket")

    def __init__(self, shedder: LoadShedder, rank: int) -> None:
        self._shedder = shedder
        self._rank = rank
        self._ticket: Any = _UNENTERED

    @property
    def priority(self) -> str:
        return PRIORITIES[self._rank]

    def try_enter(self) -> bool:
        """Enter now if there is room, without waiting; ``False`` leaves it unentered.

        For edges that want the common case without a coroutine: on ``False``, ``await
        admission.wait()`` (or ``with admission``) queues or refuses as usual.
        """
        shedder = self._shedder
        if not shedder.enter_now(self._unused()):
            return False
        self._ticket = shedder._ticket(self._rank)
        return True

    def _unused(self) -> int:
        if self._ticket is not _UNENTERED:
            raise RuntimeError("an admission cannot be entered twice")
        return self._rank

    def _enter(self, park: Park) -> Any:
        return self._shedder._enter_rank(self._unused(), park)

    def enter(self) -> None:
        """Take the permit, queueing within limits; raise LoadShed if refused."""
        self._ticket = admit_sync(self._shedder, self._enter)

    async def wait(self) -> None:
        """The async :meth:`enter`: queue within limits for the permit, or raise LoadShed."""
        self._ticket = await admit_async(self._shedder, self._enter)

    def leave(self, exc: BaseException | None = None) -> None:
        """Give the permit back; ``exc`` is how the call ended (a timeout is a drop)."""
        ticket = self._ticket
        if ticket is not _UNENTERED:
            self._shedder._leave(ticket, exc)

    def __enter__(self) -> Admission:
        self.enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave(exc)

    async def __aenter__(self) -> Admission:
        await self.wait()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.leave(exc_info[1])


_UNENTERED: Any = object()
