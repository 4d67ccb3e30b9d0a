"""One clock, one log: who acted as leader when, for the overlap checks."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from seawall.lease import LeaderElector, Leadership, StopReason

# Integration timings: short, so the suite stays fast; the ratios are client-go's.
LEASE = 2.0
RENEW = 1.2
RETRY = 0.2


@dataclass
class Interval:
    who: str
    start: float
    end: float | None = None
    token: int | None = None


@dataclass
class Timeline:
    """Acting-leader intervals per elector, stamped from one monotonic clock.

    Two sources: the callbacks (``started`` .. ``stopped``), and a watcher thread that polls
    every elector's ``is_leader()`` — an interval runs from the check that first saw it
    true to the check that first saw it false, which over-approximates the truth.
    """

    now: Callable[[], float] = time.monotonic
    callbacks: list[Interval] = field(default_factory=list)
    polled: list[Interval] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hooks(self, who: str) -> dict[str, Callable[..., object]]:
        def started(term: Leadership) -> None:
            with self.lock:
                self.callbacks.append(Interval(who, self.now(), None, term.token))

        def stopped(term: Leadership, reason: StopReason) -> None:
            with self.lock:
                for iv in reversed(self.callbacks):
                    if iv.who == who and iv.end is None:
                        iv.end = self.now()
                        break

        return {"on_started_leading": started, "on_stopped_leading": stopped}

    def watch(self, electors: dict[str, LeaderElector], period: float = 0.002) -> Watcher:
        return Watcher(self, electors, period)

    def leader_intervals(self, who: str) -> list[Interval]:
        with self.lock:
            return [iv for iv in self.polled if iv.who == who]

    def assert_no_overlap(self) -> int:
        """No two electors' intervals overlap (both sources); returns how many intervals."""
        now = self.now()
        with self.lock:
            for source in (self.callbacks, self.polled):
                spans = sorted(
                    (iv.start, now if iv.end is None else iv.end, iv.who) for iv in source
                )
                for (s1, e1, w1), (s2, e2, w2) in itertools.pairwise(spans):
                    assert w1 == w2 or e1 < s2, (
                        f"two acting leaders: {w1} [{s1:.3f}, {e1:.3f}] and {w2} [{s2:.3f}, {e2:.3f}]"
                    )
            return len(self.polled)


class Watcher:
    def __init__(self, timeline: Timeline, electors: dict[str, LeaderElector], period: float):
        self.timeline = timeline
        self.electors = electors
        self.period = period
        self._open: dict[str, Interval] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        tl = self.timeline
        while not self._stop.is_set():
            for who, elector in self.electors.items():
                before = tl.now()
                term = elector.leadership()
                after = tl.now()
                with tl.lock:
                    current = self._open.get(who)
                    if term is not None and current is None:
                        iv = Interval(who, before, None, term.token)
                        self._open[who] = iv
                        tl.polled.append(iv)
                    elif term is not None and current is not None and term.token != current.token:
                        current.end = after
                        iv = Interval(who, before, None, term.token)
                        self._open[who] = iv
                        tl.polled.append(iv)
                    elif term is None and current is not None:
                        current.end = after
                        del self._open[who]
            self._stop.wait(self.period)


def wait_until(condition: Callable[[], object], within: float, step: float = 0.005) -> float:
    """Poll ``condition`` until true; returns the monotonic time it was first seen true."""
    until = time.monotonic() + within
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > until:
            raise AssertionError(f"condition not met within {within}s")
        time.sleep(step)
