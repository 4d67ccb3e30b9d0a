"""Client-side adaptive throttling (Google SRE book, "Handling Overload").

When a backend is rejecting most of what it is sent, every rejected request still costs
it work: the client keeps the pressure on exactly when the backend needs relief. So the
client keeps two counts over a sliding window — ``requests`` it tried and ``accepts`` the
backend took — and rejects new requests *locally* with probability::

    p = max(0, (requests - K * accepts) / (requests + 1))

While the backend accepts everything, ``p`` is 0. When it accepts less than ``1/K`` of
requests, the client sends at most about ``K * accepts`` requests (plus a small constant)
and drops the rest itself, for free. ``K = 2`` (the book's choice) lets through twice
what the backend is accepting, so the client notices recovery quickly; lower K throttles
harder but adapts more slowly. The window is two minutes by default.

Locally rejected requests still count as requests, which is what makes the backend's
share shrink. The flip side: once a backend has refused nearly everything for a whole
window, ``p`` is close to 1 and only a trickle probes it, so after it recovers the client
needs a few minutes to open up again. ``max_rejection_probability`` (1.0, the book's
formula, by default; Envoy's admission control uses 0.8) caps ``p`` so the client keeps
probing and reopens within about one window, at the price of always sending that share.

Outcomes counted as *not accepted* are overload signals (``on``: a seawall
:class:`~seawall.Rejected`, a timeout or a refused connection by default); any other
outcome, error or not, means the backend accepted the request and answered.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError, LoadShed, Rejected
from seawall._events import CallRejected, Event
from seawall._gate import Park, Wait
from seawall._priority import current_priority
from seawall._validate import MAX_BUCKETS, MIN_WINDOW, count, real, seconds
from seawall._validate import name as policy_name
from seawall.policies._base import Policy

__all__ = ["AdaptiveThrottle", "ThrottleStats", "ThrottleWindow"]


RejectionTest = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)


@dataclass(frozen=True, slots=True)
class ThrottleStats:
    """Counts over the current window and the probability of a local rejection now."""

    requests: int
    accepts: int
    rejection_probability: float
    throttled: int


class ThrottleWindow:
    """The pure sliding-window counter behind :class:`AdaptiveThrottle` (not locked).

    The window is a ring of ``buckets`` equal slices; a count lands in the slice of its
    clock reading, and slices older than the window are cleared as time moves on.
    """

    __slots__ = (
        "_acc",
        "_accepts",
        "_buckets",
        "_cap",
        "_current",
        "_k",
        "_req",
        "_requests",
        "_width",
    )

    def __init__(self, *, k: float, window: float, buckets: int, cap: float = 1.0) -> None:
        self._k = k
        self._cap = cap
        self._buckets = buckets
        self._width = window / buckets
        self._req = [0] * buckets
        self._acc = [0] * buckets
        self._requests = 0
        self._accepts = 0
        self._current: int | None = None

    def _advance(self, now: float) -> int:
        bucket = int(now // self._width)
        current = self._current
        if current is None:
            self._current = bucket
        elif bucket > current:
            n = self._buckets
            for step in range(current + 1, current + 1 + min(bucket - current, n)):
                slot = step % n
                self._requests -= self._req[slot]
                self._accepts -= self._acc[slot]
                self._req[slot] = 0
                self._acc[slot] = 0
            self._current = bucket
        return bucket % self._buckets

    def probability(self, now: float) -> float:
        """The chance that a request starting now is rejected locally."""
        self._advance(now)
        requests = self._requests
        p = (requests - self._k * self._accepts) / (requests + 1)
        return min(p, self._cap) if p > 0.0 else 0.0

    def request(self, now: float, draw: float) -> bool:
        """Count a request; True if it may go to the backend (``draw`` uniform in [0, 1))."""
        p = self.probability(now)
        slot = self._advance(now)
        self._req[slot] += 1
        self._requests += 1
        return not draw < p

    def accept(self, now: float) -> None:
        """The backend accepted a request."""
        slot = self._advance(now)
        self._acc[slot] += 1
        self._accepts += 1

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def accepts(self) -> int:
        return self._accepts


def _rejection_test(on: RejectionTest) -> Callable[[BaseException], bool]:
    if isinstance(on, (type, tuple)):
        types = on

        def test(exc: BaseException) -> bool:
            return isinstance(exc, types)

        return test
    if callable(on):
        return on
    raise ConfigError(f"on must be an exception type, a tuple of them or a predicate, got {on!r}")


class AdaptiveThrottle(Policy):
    """Reject calls locally in proportion to how much the backend is refusing.

    Sits in a :class:`~seawall.Pipeline` in front of the call to the backend (inside any
    Retry, so every attempt is counted). A local rejection raises
    :class:`~seawall.LoadShed` (policy ``"adaptive_throttle"`` in the event), which Retry
    never retries.
    """

    __slots__ = (
        "_clock",
        "_events",
        "_is_rejection",
        "_lock",
        "_rng",
        "_throttled",
        "_window",
        "name",
    )

    def __init__(
        self,
        name: str = "default",
        *,
        k: float = 2.0,
        window: float | timedelta = 120.0,
        buckets: int = 120,
        max_rejection_probability: float = 1.0,
        on: RejectionTest = (Rejected, TimeoutError, ConnectionError),
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        k = real(k, "k (2.0 is the usual choice)", low=1.0)
        window = seconds(window, "window", positive=True, infinite=False, minimum=MIN_WINDOW)
        buckets = count(buckets, "buckets", maximum=MAX_BUCKETS)
        max_rejection_probability = real(
            max_rejection_probability,
            "max_rejection_probability",
            low=0.0,
            high=1.0,
            low_open=True,
        )
        self.name = policy_name(name)
        self._window = ThrottleWindow(
            k=k, window=window, buckets=buckets, cap=max_rejection_probability
        )
        self._is_rejection = _rejection_test(on)
        self._clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._events: list[Event] = []  # what it decided, emitted by the driver
        self._throttled = 0

    # -- the gate core (run by seawall._gate): it refuses or admits, never queues ------

    def _enter(self, park: Park) -> LoadShed | None:
        """Admit (``None``) or refuse the call, in proportion to the backend's refusals."""
        now = self._clock.now()
        with self._lock:
            allowed = self._window.request(now, self._rng.random())
            if allowed:
                return None
            self._throttled += 1
            p = self._window.probability(now)
        self._events.append(
            CallRejected(
                policy="adaptive_throttle",
                name=self.name,
                at=now,
                reason=f"throttled locally (p={p:.2f})",
            )
        )
        return LoadShed(
            self.name,
            f"adaptive throttle {self.name!r} rejected the call locally: the backend is "
            f"refusing most requests (local rejection probability {p:.0%})",
            priority=current_priority() or "normal",
        )

    def _waited(self, wait: Wait, woken: bool) -> None:  # pragma: no cover - never queues
        raise AssertionError("an adaptive throttle never queues a call")

    def _abandon(self, wait: Wait) -> None:  # pragma: no cover - never queues
        raise AssertionError("an adaptive throttle never queues a call")

    def _leave(self, ticket: None, exc: BaseException | None) -> None:
        """Count an accepted call: anything but a refusal (or an interrupt) from below."""
        if exc is not None and (not isinstance(exc, Exception) or self._is_rejection(exc)):
            return
        now = self._clock.now()
        with self._lock:
            self._window.accept(now)

    def statistics(self) -> ThrottleStats:
        """A frozen snapshot of the current window."""
        now = self._clock.now()
        with self._lock:
            window = self._window
            return ThrottleStats(
                requests=window.requests,
                accepts=window.accepts,
                rejection_probability=window.probability(now),
                throttled=self._throttled,
            )

    def __repr__(self) -> str:
        return f"AdaptiveThrottle({self.name!r})"
