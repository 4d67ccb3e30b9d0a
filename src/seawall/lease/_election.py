"""The election as a pure state machine: clock readings and observations in, decisions out.

client-go's leader election, made safe by construction. Its three durations mean:

* ``lease_duration`` — how long the store keeps a lease after the holder last extended it;
  no one else can win the key before then;
* ``renew_deadline`` — how long a leader may go without a successful renewal before it
  stops acting as leader, counted from the *start* of its last successful renewal;
* ``retry_period`` — how often a leader renews and a candidate tries to acquire.

The store extends a lease only while handling a request, which is after that request
started, so its expiry is at least ``start + lease_duration``. The leader acts until
``start + renew_deadline``, and the timing rule ``renew_deadline + clock_drift_margin <=
lease_duration`` puts at least the margin between "stopped acting" and "the lease can
expire for anyone else" — for clock-rate drift and scheduling, while fencing tokens make
any write that still slips through harmless. (client-go counts the renew deadline from
the start of a renew *cycle*, which can end after the lease; counting from the last
success cannot.)

:class:`Election` never sleeps, never reads a clock and never does I/O: the shells in
``_elector.py`` feed it readings and outcomes and carry out the :class:`Step` it returns.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from seawall._errors import ConfigError
from seawall._events import Event, emit
from seawall._validate import seconds
from seawall.lease._backend import Observation

__all__ = [
    "Election",
    "LeaderChanged",
    "Leadership",
    "LeadershipAcquired",
    "LeadershipChange",
    "LeadershipLost",
    "LeaseAttemptFailed",
    "LeaseTiming",
    "Step",
    "StopReason",
]

StopReason = Literal["renew_deadline", "lost", "superseded", "stopped"]
"""Why a term ended: no renewal in time, the store says another holds the key, this
elector holds a newer term, or the elector was stopped."""

# Candidates spread their attempts over [1 - _JITTER, 1] x retry_period: never longer, so
# a candidate still tries within one retry_period of the old lease expiring.
_JITTER = 0.2
# A store counts a hold as expired only strictly after its expiry time (Redis: in ms).
_AFTER_EXPIRY = 0.002


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """The durations of an election, in seconds, checked against each other.

    ``clock_drift_margin`` defaults to 10 % of ``lease_duration``.
    """

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    clock_drift_margin: float | None = None

    def __post_init__(self) -> None:
        # An infinite lease would never pass to another holder: every duration is finite.
        for what in ("lease_duration", "renew_deadline", "retry_period"):
            value = seconds(getattr(self, what), what, positive=True, infinite=False)
            object.__setattr__(self, what, value)
        if self.clock_drift_margin is not None:
            margin = seconds(self.clock_drift_margin, "clock_drift_margin", infinite=False)
            object.__setattr__(self, "clock_drift_margin", margin)
        if not self.retry_period < self.renew_deadline:
            raise ConfigError(
                f"retry_period ({self.retry_period}s) must be shorter than renew_deadline "
                f"({self.renew_deadline}s), or a leader gets no second try before stepping down"
            )
        if self.renew_deadline + self.drift_margin > self.lease_duration:
            raise ConfigError(
                f"renew_deadline ({self.renew_deadline}s) + clock_drift_margin "
                f"({self.drift_margin}s) exceeds lease_duration ({self.lease_duration}s): "
                "a leader could still be acting when its lease expires for someone else"
            )

    @property
    def drift_margin(self) -> float:
        """The clock-drift margin in force (the default resolved)."""
        if self.clock_drift_margin is not None:
            return float(self.clock_drift_margin)
        return 0.1 * self.lease_duration

    @property
    def attempt_limit(self) -> float:
        """The longest one attempt may take: half the renew deadline, so a leader whose
        request hung still has time for another before it must step down."""
        return self.renew_deadline / 2


@dataclass(frozen=True, slots=True)
class Leadership:
    """One term of leadership: who, its fencing token, when it began and until when it holds.

    ``valid_until`` moves forward with every renewal; a snapshot is never updated.
    """

    identity: str
    token: int
    acquired_at: float
    valid_until: float


@dataclass(frozen=True, slots=True)
class LeadershipChange:
    """A term started or stopped (``reason`` says why it stopped)."""

    kind: Literal["started", "stopped"]
    leadership: Leadership
    reason: StopReason | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What a shell must do after feeding the election one input.

    ``changes`` go to callbacks and iterators in order; ``new_holder`` is the newly observed
    holder when it changed (``holder_changed``); ``release`` asks the shell to end the
    backend session, so the term that just ended can never be resumed.
    """

    changes: tuple[LeadershipChange, ...] = ()
    holder_changed: bool = False
    new_holder: str | None = None
    release: bool = False


_NOTHING = Step()


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadershipAcquired(Event):
    """``identity`` became leader with fencing ``token``; it acts until ``valid_until``."""

    folds: ClassVar[bool] = False  # a change of leader is never folded into a count

    identity: str
    token: int
    valid_until: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadershipLost(Event):
    """``identity`` stopped acting as leader of term ``token`` for ``reason``."""

    folds: ClassVar[bool] = False  # a change of leader is never folded into a count

    identity: str
    token: int
    reason: StopReason
    held_for: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaderChanged(Event):
    """``identity`` observed a new holder of the election key (``None``: nobody)."""

    folds: ClassVar[bool] = False  # a change of leader is never folded into a count

    identity: str
    holder: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseAttemptFailed(Event):
    """An acquire or renew attempt of ``identity`` failed with ``error``."""

    identity: str
    leader: bool
    error: BaseException


@dataclass(slots=True)
class Election:
    """The decisions of one elector. Not thread-safe except :meth:`is_leader` and
    :meth:`leadership`, which read one immutable snapshot and may be called from anywhere.
    """

    timing: LeaseTiming
    identity: str
    name: str = "leader"
    rng: random.Random = field(default_factory=random.Random)
    _term: Leadership | None = None
    _highest_token: int = 0
    _next_attempt: float = -math.inf
    _holder: str | None = None

    # -- queries (any thread) --------------------------------------------------------------

    def is_leader(self, now: float) -> bool:
        """Whether this elector may act as leader at clock reading ``now``."""
        term = self._term
        return term is not None and now < term.valid_until

    def leadership(self, now: float) -> Leadership | None:
        """The current term, if leadership is still guaranteed at ``now``."""
        term = self._term
        return term if term is not None and now < term.valid_until else None

    @property
    def holder(self) -> str | None:
        """The holder last observed in the store."""
        return self._holder

    # -- scheduling (the shell's thread) ----------------------------------------------------

    def next_wakeup(self) -> float:
        """When the shell must come back: the next attempt, or the end of the term if sooner."""
        term = self._term
        if term is None:
            return self._next_attempt
        return min(self._next_attempt, term.valid_until)

    def term_end(self) -> float | None:
        """When the current term ends unless renewed (``None`` when not leader)."""
        term = self._term
        return None if term is None else term.valid_until

    def begin_attempt(self, now: float) -> float:
        """An attempt starts at ``now``; returns how long it may take."""
        term = self._term
        if term is None:
            self._next_attempt = now + self.timing.retry_period * (
                1.0 - _JITTER * self.rng.random()
            )
            return self.timing.attempt_limit
        self._next_attempt = now + self.timing.retry_period
        return max(0.0, min(self.timing.attempt_limit, term.valid_until - now))

    # -- transitions ------------------------------------------------------------------------

    def expire(self, now: float) -> Step:
        """Step down if the term can no longer be guaranteed at ``now``."""
        term = self._term
        if term is None or now < term.valid_until:
            return _NOTHING
        return Step(changes=(self._stop(term, "renew_deadline", now),), release=True)

    def observed(self, started: float, now: float, seen: Observation) -> Step:
        """An attempt that started at ``started`` returned ``seen`` at ``now``."""
        expired = self.expire(now)
        changes = list(expired.changes)
        release = expired.release
        term = self._term
        window_end = started + self.timing.renew_deadline
        if seen.held and seen.token is not None:
            if term is not None and seen.token == term.token:
                if window_end > term.valid_until:
                    self._term = replace(term, valid_until=window_end)
            elif seen.token > self._highest_token:
                if term is not None:
                    changes.append(self._stop(term, "superseded", now))
                if now < window_end:
                    changes.append(self._start(seen.token, now, window_end))
                # else: the answer came too late to act on; the next attempt (due now)
                # renews the same hold from a fresh start and begins the term then.
            else:
                # A hold on a term this elector already gave up (a late answer, a release
                # that could not reach the store): never resume it, let it go.
                release = True
        elif term is not None:
            changes.append(self._stop(term, "lost", now))
            release = True
        if not seen.held and seen.free_in is not None and self._term is None:
            # Try the moment the key can be taken, not up to a retry_period later.
            self._next_attempt = min(self._next_attempt, now + seen.free_in + _AFTER_EXPIRY)
        holder = seen.holder
        if holder != self._holder:
            self._holder = holder
            emit(
                LeaderChanged(
                    policy="leader_election",
                    name=self.name,
                    at=now,
                    identity=self.identity,
                    holder=holder,
                )
            )
            return Step(tuple(changes), True, holder, release)
        return Step(tuple(changes), release=release)

    def failed(self, started: float, now: float, error: BaseException) -> Step:
        """An attempt that started at ``started`` failed with ``error`` at ``now``."""
        emit(
            LeaseAttemptFailed(
                policy="leader_election",
                name=self.name,
                at=now,
                identity=self.identity,
                leader=self._term is not None,
                error=error,
            )
        )
        return self.expire(now)

    def stop(self, now: float, *, release: bool = True) -> Step:
        """The elector is stopping: end the term, if any, and (by default) release the key."""
        self._next_attempt = math.inf
        expired = self.expire(now)
        if expired.changes:
            return Step(changes=expired.changes, release=release)
        term = self._term
        if term is None:
            return Step(release=release)
        return Step(changes=(self._stop(term, "stopped", now),), release=release)

    def _start(self, token: int, now: float, valid_until: float) -> LeadershipChange:
        term = Leadership(self.identity, token, now, valid_until)
        self._term = term
        self._highest_token = token
        emit(
            LeadershipAcquired(
                policy="leader_election",
                name=self.name,
                at=now,
                identity=self.identity,
                token=token,
                valid_until=valid_until,
            )
        )
        return LeadershipChange("started", term)

    def _stop(self, term: Leadership, reason: StopReason, now: float) -> LeadershipChange:
        self._term = None
        emit(
            LeadershipLost(
                policy="leader_election",
                name=self.name,
                at=now,
                identity=self.identity,
                token=term.token,
                reason=reason,
                held_for=now - term.acquired_at,
            )
        )
        return LeadershipChange("stopped", term, reason)
