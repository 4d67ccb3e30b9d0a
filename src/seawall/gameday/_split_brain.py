"""Game day "split brain": a leader flag versus seawall's lease + fencing, same faults.

Two workers on each side of a network partition compete to be the single writer of a
shared resource. A partition cuts one side off from the lease store (the consensus
store), while both sides can still reach the resource — the shape in which each side
ends up with a leader. Stop-the-world pauses (GC, swap) strike the workers too, so a
write can be checked as a leader's and land as a deposed one's. The same seeded fault
schedule is replayed against three configurations:

* **naive** — a leader flag: set on winning the lock, cleared only when the store answers
  that someone else holds it. A worker cut off from the store hears nothing and keeps
  writing. (The lock itself expires, so the other side elects a leader too.)
* **lease** — seawall's :class:`~seawall.lease.Election`: the leader stops acting when it
  cannot renew by ``renew_deadline``, before its lease can expire for anyone else; but
  writes carry no token, so a write that was already in flight when a pause struck
  still lands.
* **lease + fencing** — the same, with every write carrying its term's token to a
  :class:`~seawall.lease.SQLiteFencedStore`, which rejects the stale ones.

A write *conflicts* when the resource accepts it although a newer term has already
written there: the resource's history is no longer ordered by term (that is the
divergence a split brain leaves behind).

It runs on virtual time (a :class:`~seawall.testing.FakeClock`) against the in-process
:class:`~seawall.lease.MemoryLeaseStore`, so it is deterministic for a seed, takes well
under a second, and needs no server — which is what ``seawall gameday`` wants. The same
elector against real etcd through a blackholing relay is what the integration tests
prove; this scenario compares the designs on identical faults.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from seawall.lease import (
    Election,
    LeaseTiming,
    MemoryLease,
    MemoryLeaseStore,
    Observation,
    SQLiteFencedStore,
    StaleToken,
)
from seawall.testing import FakeClock

__all__ = ["SplitBrainResult", "SplitBrainRow", "run_split_brain"]

_DT = 0.01  # simulation step, seconds of virtual time
_WRITE_INTERVAL = 0.05
_WRITE_LATENCY = 0.02
_MODES = ("naive", "lease", "lease + fencing")
_LABELS = {
    "naive": "naive: leader flag, no fencing",
    "lease": "seawall lease, no fencing",
    "lease + fencing": "seawall lease + fencing",
}


@dataclass(frozen=True, slots=True)
class SplitBrainRow:
    """The outcome of one configuration."""

    mode: str
    writes: int
    accepted: int
    rejected: int
    conflicting: int
    dual_leader_seconds: float
    terms: int

    @property
    def label(self) -> str:
        return _LABELS.get(self.mode, self.mode)


@dataclass(frozen=True, slots=True)
class SplitBrainResult:
    """Every configuration's row on one seeded fault schedule; ``str()`` is the table."""

    seed: int
    duration: float
    workers: int
    partitions: int
    pauses: int
    timing: LeaseTiming
    rows: tuple[SplitBrainRow, ...]

    def row(self, mode: str) -> SplitBrainRow:
        """The row of ``mode`` ("naive", "lease" or "lease + fencing")."""
        return next(r for r in self.rows if r.mode == mode)

    def table(self) -> str:
        t = self.timing
        head = (
            f"split brain: {self.workers} workers ({self.workers // 2} per side), "
            f"{self.duration:g}s virtual, seed {self.seed}, {self.partitions} partitions, "
            f"{self.pauses} process pauses; lease {t.lease_duration:g}s, renew deadline "
            f"{t.renew_deadline:g}s, retry {t.retry_period:g}s"
        )
        columns = (
            "configuration",
            "writes",
            "accepted",
            "rejected (stale token)",
            "conflicting writes",
            "two leaders acting (s)",
            "terms",
        )
        cells = [
            (
                r.label,
                str(r.writes),
                str(r.accepted),
                str(r.rejected),
                str(r.conflicting),
                f"{r.dual_leader_seconds:.2f}",
                str(r.terms),
            )
            for r in self.rows
        ]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

        def line(values: tuple[str, ...]) -> str:
            first = values[0].ljust(widths[0])
            rest = (v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True))
            return "| " + " | ".join((first, *rest)) + " |"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join((head, "", line(columns), rule, *(line(c) for c in cells)))

    def __str__(self) -> str:
        return self.table()


@dataclass(slots=True)
class _Faults:
    """The seeded schedule: side cuts from the lease store, and per-worker pauses."""

    cuts: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, side
    pauses: list[list[tuple[float, float]]] = field(default_factory=list)

    def cut(self, side: int, now: float) -> bool:
        return any(s <= now < e and cut == side for s, e, cut in self.cuts)

    def paused(self, worker: int, now: float) -> bool:
        return any(s <= now < e for s, e in self.pauses[worker])


def _schedule(rng: random.Random, duration: float, workers: int, t: LeaseTiming) -> _Faults:
    faults = _Faults()
    now = rng.uniform(1.0, 3.0)
    while now < duration:
        length = rng.uniform(t.renew_deadline, 2.5 * t.lease_duration)
        faults.cuts.append((now, now + length, rng.randrange(2)))
        now += length + rng.uniform(1.0, 3.0) * t.lease_duration
    for _ in range(workers):
        pauses: list[tuple[float, float]] = []
        now = rng.expovariate(1 / 12.0)
        while now < duration:
            length = rng.uniform(0.25, 1.5) * t.lease_duration
            pauses.append((now, now + length))
            now += length + rng.expovariate(1 / 12.0)
        faults.pauses.append(pauses)
    return faults


@dataclass(slots=True)
class _Worker:
    index: int
    side: int
    backend: MemoryLease
    election: Election | None  # None: the naive flag
    flag_token: int | None = None  # naive: the token of the term it believes it holds
    next_attempt: float = 0.0
    next_write: float = 0.0
    in_flight: tuple[float, int] | None = None  # (lands at, token)

    def leads(self, now: float) -> int | None:
        """The token it would write with now, or None when it does not think it leads."""
        if self.election is None:
            return self.flag_token
        term = self.election.leadership(now)
        return None if term is None else term.token


def _attempt(worker: _Worker, faults: _Faults, now: float, t: LeaseTiming) -> None:
    cut = faults.cut(worker.side, now)
    election = worker.election
    if election is None:
        worker.next_attempt = now + t.retry_period
        if cut:
            return  # no answer: the flag stays as it is (the bug)
        flag = worker.backend.try_acquire_or_renew(f"w{worker.index}", t.lease_duration, 0.0)
        worker.flag_token = flag.token if flag.held else None
        return
    expired = election.expire(now)
    if expired.release and not cut:
        worker.backend.release(0.0)
    if now < election.next_wakeup():
        return
    election.begin_attempt(now)
    if cut:
        step = election.failed(now, now, TimeoutError("partitioned from the lease store"))
    else:
        seen: Observation = worker.backend.try_acquire_or_renew(
            f"w{worker.index}", t.lease_duration, 0.0
        )
        step = election.observed(now, now, seen)
    if step.release and not cut:
        worker.backend.release(0.0)


def _run_mode(
    mode: str, faults: _Faults, seed: int, duration: float, workers: int, timing: LeaseTiming
) -> SplitBrainRow:
    clock = FakeClock()
    leases = MemoryLeaseStore(clock=clock)
    fenced = SQLiteFencedStore(":memory:", resource="split-brain")
    crew = [
        _Worker(
            i,
            i * 2 // workers,
            leases.lease("resource"),
            None
            if mode == "naive"
            else Election(timing, f"w{i}", "split-brain", random.Random(seed * 31 + i)),
        )
        for i in range(workers)
    ]
    writes = accepted = rejected = conflicting = 0
    newest_written = 0
    dual = 0.0
    land: Callable[[int, int], bool]

    def land_fenced(token: int, n: int) -> bool:
        try:
            fenced.write("state", f"write {n}", token=token)
        except StaleToken:
            return False
        return True

    land = land_fenced if mode == "lease + fencing" else (lambda token, n: True)
    steps = int(duration / _DT)
    for tick in range(steps):
        now = tick * _DT
        clock.advance(now - clock.now())
        believers = 0
        for w in crew:
            if w.leads(now) is not None:
                believers += 1
            if faults.paused(w.index, now):
                continue
            if w.in_flight is not None and now >= w.in_flight[0]:
                token = w.in_flight[1]
                w.in_flight = None
                writes += 1
                if land(token, writes):
                    accepted += 1
                    if token < newest_written:
                        conflicting += 1
                    newest_written = max(newest_written, token)
                else:
                    rejected += 1
            if now >= w.next_attempt:
                _attempt(w, faults, now, timing)
            token_now = w.leads(now)
            if token_now is not None and w.in_flight is None and now >= w.next_write:
                w.in_flight = (now + _WRITE_LATENCY, token_now)
                w.next_write = now + _WRITE_INTERVAL
        if believers >= 2:
            dual += _DT
    fenced.close()
    return SplitBrainRow(
        mode=mode,
        writes=writes,
        accepted=accepted,
        rejected=rejected,
        conflicting=conflicting,
        dual_leader_seconds=round(dual, 2),
        terms=leases.latest_token("resource"),
    )


def run_split_brain(
    seed: int = 0,
    duration: float = 60.0,
    *,
    workers_per_side: int = 2,
    lease_duration: float = 2.0,
    renew_deadline: float = 1.2,
    retry_period: float = 0.2,
) -> SplitBrainResult:
    """Replay one seeded schedule of partitions and pauses against each configuration.

    ``duration`` is in virtual seconds; the run itself takes a fraction of a second.
    """
    if workers_per_side < 1:
        raise ValueError("workers_per_side must be at least 1")
    timing = LeaseTiming(lease_duration, renew_deadline, retry_period)
    workers = 2 * workers_per_side
    faults = _schedule(random.Random(seed), duration, workers, timing)
    rows = tuple(_run_mode(m, faults, seed, duration, workers, timing) for m in _MODES)
    return SplitBrainResult(
        seed=seed,
        duration=duration,
        workers=workers,
        partitions=len(faults.cuts),
        pauses=sum(len(p) for p in faults.pauses),
        timing=timing,
        rows=rows,
    )
