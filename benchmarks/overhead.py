"""Per-call success-path overhead of seawall's policies against peer libraries.

Run it from the repository root (``make bench`` does)::

    .venv/bin/python benchmarks/overhead.py            # full run, ~1-2 minutes
    .venv/bin/python benchmarks/overhead.py --quick    # smoke run, a few seconds
    .venv/bin/python benchmarks/overhead.py --json results.json

What is measured
    The cost a resilience wrapper adds to a call that succeeds at the first attempt: the
    path every call takes, and the only one whose cost matters when nothing is wrong. The
    wrapped function is ``def work(x): return x`` (``async def`` in async mode), decorated
    the way each library documents, with default settings except where noted in its row.
    A row's *overhead* is the time per wrapped call minus the time per bare ``work(x)``
    call (``await awork(x)`` in async mode) measured in the same repeat, in µs.

Method, and why
    * One process, one run: every row and every ratio comes from the same interpreter
      and the same minutes of machine load, so a ratio is not skewed by one library
      having been measured while the machine was busier.
    * Interleaving: a repeat is 10 rounds; a round times every row for ``--calls / 10``
      calls, and the order of the rows rotates from one round to the next. Slow drift
      (a noisy neighbour, frequency scaling, thermal throttling) is then spread over all
      rows instead of landing on whichever row happens to run during it.
    * Baseline per repeat: the bare call is timed in the same rounds and subtracted from
      each row's time of that repeat, so the loop, the call of ``work`` itself and the
      argument passing are not counted as overhead.
    * Medians: the reported overhead is the median over the repeats (at least 5). Timing
      noise on a shared machine is one-sided (interruptions only ever add time) and comes
      in bursts, so a mean is dragged by the one repeat that got preempted; the median is
      not. The min and max over the repeats are shown so the spread is visible, and each
      target also shows the range of its per-repeat ratios.
    * ``time.perf_counter_ns`` around a tight loop, 50,000 calls per row per repeat by
      default: long enough that timer resolution and loop setup vanish, short enough that
      7 repeats of every row fit in about a minute. Every row is warmed up first.
    * The garbage collector is collected before each round and disabled while it runs,
      as ``timeit`` does, so a collection does not land on whichever row triggered it
      (``--gc`` leaves it on; the ratios come out the same within noise).
    * The call takes one positional argument, as real calls do: a wrapper that repacks
      ``*args, **kwargs`` per layer pays for it, and that cost is part of its overhead.
    * Async rows run inside one event loop; a call that does not suspend never yields to
      it, so what is timed is the wrappers' own code, not the event loop's scheduling
      (hyx's timeout, which runs the call in a new task, is the exception and pays for it).

Targets, checked on the medians of this run; exit status 1 if any fails or cannot be
measured:
    1. ``Retry`` ≤ 1/20 of tenacity's ``@retry`` overhead and ≤ backoff's
       ``on_exception``, sync and async (against the cheaper of tenacity's two rows, the
       stricter reading);
    2. ``CircuitBreaker`` ≤ 1/2 of pybreaker's (sync only: pybreaker has no asyncio) and
       ≤ 0.6 × circuitbreaker's ``@circuit``, sync and async;
    3. sync ``standard()`` ≤ 1/6 of tenacity's bare ``@retry``;
    4. async ``standard()`` ≤ 1/6 of tenacity's async ``@retry``;
    5. metrics cost little: the same sync ``standard()`` call in a process with 1,000 more
       named policies, a Prometheus scrape every second and tracing instrumented (sampler
       off) ≤ 1.10 × the call in a process with none of it (``_observed.py``; separate
       processes, since a collector and a tracer are process-wide).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Result", "Row", "Target", "main", "run"]

Mode = Literal["sync", "async"]
Wrapped = Callable[[int], Any]
Builder = Callable[[Wrapped], Wrapped]

FULL_CALLS = 50_000
FULL_REPEATS = 7
QUICK_CALLS = 2_000
QUICK_REPEATS = 5
ROUNDS = 10
MIN_REPEATS = 5
ARG = 7


class Unavailable(Exception):
    """A row that cannot be measured here; the message says why."""


def work(x: int) -> int:
    """The protected call: as cheap as a call can be, so only the wrapper is measured."""
    return x


async def awork(x: int) -> int:
    """The async protected call; it never suspends."""
    return x


def _is_async(fn: Wrapped) -> bool:
    return inspect.iscoroutinefunction(fn)


# --- builders: each wraps work/awork the way its library documents ---------------------


def _bare(fn: Wrapped) -> Wrapped:
    return fn


def _tenacity(fn: Wrapped) -> Wrapped:
    import tenacity

    return tenacity.retry(fn)


def _tenacity_3(fn: Wrapped) -> Wrapped:
    import tenacity

    return tenacity.retry(stop=tenacity.stop_after_attempt(3))(fn)


def _stamina(fn: Wrapped) -> Wrapped:
    # stamina's defaults are left alone: test mode is off unless set_testing(True) was
    # called, and its instrumentation hooks run only when a retry is scheduled, never on
    # the success path. Its default 45 s total timeout stays on, as a user would get it.
    import stamina

    if stamina.is_testing():
        raise Unavailable("stamina test mode is on in this process")
    return stamina.retry(on=Exception, attempts=3)(fn)


def _backoff(fn: Wrapped) -> Wrapped:
    import backoff

    return backoff.on_exception(backoff.expo, Exception, max_tries=3)(fn)


def _pybreaker(fn: Wrapped) -> Wrapped:
    import pybreaker

    if _is_async(fn):
        raise Unavailable("no asyncio support (call_async is Tornado-only)")
    return pybreaker.CircuitBreaker()(fn)


def _circuitbreaker(fn: Wrapped) -> Wrapped:
    circuit: Callable[[Wrapped], Wrapped] = importlib.import_module("circuitbreaker").circuit
    return circuit(fn)


def _purgatory(fn: Wrapped) -> Wrapped:
    import purgatory

    factory: Any
    if _is_async(fn):
        factory = purgatory.AsyncCircuitBreakerFactory()
    else:
        factory = purgatory.SyncCircuitBreakerFactory()
    return factory("bench")(fn)  # type: ignore[no-any-return]


def _hyx(make: Callable[[], Callable[[Wrapped], Wrapped]]) -> Builder:
    def build(fn: Wrapped) -> Wrapped:
        if not _is_async(fn):
            raise Unavailable("async-only library")
        return make()(fn)

    return build


def _hyx_retry() -> Callable[[Wrapped], Wrapped]:
    from hyx.retry import retry

    return retry(on=Exception, attempts=3)


def _hyx_breaker() -> Callable[[Wrapped], Wrapped]:
    from hyx.circuitbreaker import consecutive_breaker

    return consecutive_breaker()


def _hyx_bulkhead() -> Callable[[Wrapped], Wrapped]:
    from hyx.bulkhead import bulkhead

    return bulkhead(max_concurrency=10, max_capacity=10)  # = seawall's 10 slots, no queue


def _hyx_timeout() -> Callable[[Wrapped], Wrapped]:
    from hyx.timeout import timeout

    return timeout(1.0)


def _seawall(make: Callable[[], Any]) -> Builder:
    def build(fn: Wrapped) -> Wrapped:
        return make()(fn)  # type: ignore[no-any-return]

    return build


def _sw_retry() -> Any:
    import seawall

    return seawall.Retry()


def _sw_breaker() -> Any:
    import seawall

    return seawall.CircuitBreaker("bench")


def _sw_bulkhead() -> Any:
    import seawall

    return seawall.Bulkhead("bench", max_concurrent=10)


def _sw_timeout() -> Any:
    import seawall

    return seawall.Timeout(1.0)


def _sw_standard() -> Any:
    import seawall

    return seawall.standard("bench")


@dataclass(frozen=True)
class Spec:
    """One benchmark row before it is measured."""

    library: str
    policy: str
    kind: str  # baseline, retry, breaker, bulkhead, timeout, pipeline
    build: Builder
    modes: tuple[Mode, ...] = ("sync", "async")


SPECS: tuple[Spec, ...] = (
    Spec("bare", "work(x)", "baseline", _bare),
    Spec("tenacity", "@retry", "retry", _tenacity),
    Spec("tenacity", "@retry(stop=stop_after_attempt(3))", "retry", _tenacity_3),
    Spec("stamina", "@retry(on=Exception, attempts=3)", "retry", _stamina),
    Spec("backoff", "on_exception(expo, Exception, max_tries=3)", "retry", _backoff),
    Spec("hyx", "@retry(on=Exception, attempts=3)", "retry", _hyx(_hyx_retry)),
    Spec("pybreaker", "CircuitBreaker()", "breaker", _pybreaker),
    Spec("circuitbreaker", "@circuit", "breaker", _circuitbreaker),
    Spec("purgatory", "CircuitBreakerFactory()('bench')", "breaker", _purgatory),
    Spec("hyx", "consecutive_breaker()", "breaker", _hyx(_hyx_breaker)),
    Spec("hyx", "bulkhead(10, 10)", "bulkhead", _hyx(_hyx_bulkhead)),
    Spec("hyx", "timeout(1.0)", "timeout", _hyx(_hyx_timeout)),
    Spec("seawall", "Retry()", "retry", _seawall(_sw_retry)),
    Spec("seawall", "CircuitBreaker()", "breaker", _seawall(_sw_breaker)),
    Spec("seawall", "Bulkhead(max_concurrent=10)", "bulkhead", _seawall(_sw_bulkhead)),
    Spec("seawall", "Timeout(1.0)", "timeout", _seawall(_sw_timeout)),
    Spec("seawall", "standard()", "pipeline", _seawall(_sw_standard)),
)

# The row each kind of row is compared with in the table's ratio column, per mode.
COMPARATORS: dict[tuple[Mode, str], tuple[str, str]] = {
    ("sync", "retry"): ("tenacity", "@retry"),
    ("sync", "pipeline"): ("tenacity", "@retry"),
    ("sync", "breaker"): ("pybreaker", "CircuitBreaker()"),
    ("async", "retry"): ("tenacity", "@retry"),
    ("async", "pipeline"): ("tenacity", "@retry"),
    ("async", "breaker"): ("circuitbreaker", "@circuit"),
    ("async", "bulkhead"): ("hyx", "bulkhead(10, 10)"),
    ("async", "timeout"): ("hyx", "timeout(1.0)"),
}


@dataclass
class Row:
    """One measured row: a library's wrapper in one mode."""

    mode: Mode
    library: str
    policy: str
    kind: str
    fn: Wrapped | None = None
    error: str | None = None
    per_call_ns: list[float] = field(default_factory=list)
    overhead_us: list[float] = field(default_factory=list)

    @property
    def key(self) -> tuple[Mode, str, str]:
        return (self.mode, self.library, self.policy)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.overhead_us)

    @property
    def median(self) -> float:
        return statistics.median(self.overhead_us)

    def fail(self, exc: BaseException) -> None:
        self.fn = None
        if isinstance(exc, Unavailable):
            self.error = str(exc)
        elif isinstance(exc, ImportError):
            self.error = f"not installed ({exc.name or exc})"
        else:
            self.error = f"{type(exc).__name__}: {exc}"


@dataclass
class Target:
    """One of the issue's targets: ``row / comparator <= limit``."""

    number: int
    name: str
    row: tuple[Mode, str, str]
    comparators: tuple[tuple[Mode, str, str], ...]  # the cheapest one measured is used
    limit: float
    limit_text: str
    ratio: float | None = None
    paired: list[float] = field(default_factory=list)
    comparator_used: str = ""
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.ratio is not None and self.ratio <= self.limit


@dataclass
class Result:
    """Everything one run measured."""

    calls: int
    repeats: int
    rounds: int
    gc_enabled: bool
    rows: list[Row]
    targets: list[Target]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.targets)

    def row(self, mode: Mode, library: str, policy: str) -> Row:
        for row in self.rows:
            if row.key == (mode, library, policy):
                return row
        raise KeyError((mode, library, policy))


# --- timing -------------------------------------------------------------------------------


def _time_sync(fn: Wrapped, calls: int) -> int:
    arg = ARG
    loop = itertools.repeat(None, calls)
    start = time.perf_counter_ns()
    for _ in loop:
        fn(arg)
    return time.perf_counter_ns() - start


async def _time_async(fn: Wrapped, calls: int) -> int:
    arg = ARG
    loop = itertools.repeat(None, calls)
    start = time.perf_counter_ns()
    for _ in loop:
        await fn(arg)
    return time.perf_counter_ns() - start


def _elapsed(runner: asyncio.Runner, row: Row, calls: int) -> int:
    """Nanoseconds taken by ``calls`` calls of ``row``."""
    assert row.fn is not None
    if row.mode == "sync":
        return _time_sync(row.fn, calls)
    return runner.run(_time_async(row.fn, calls))


def _round(runner: asyncio.Runner, rows: list[Row], calls: int, keep_gc: bool) -> dict[int, int]:
    """Time ``calls`` calls of every row, in the given order; ``id(row)`` -> nanoseconds."""
    gc.collect()
    if not keep_gc:
        gc.disable()
    elapsed: dict[int, int] = {}
    try:
        for row in rows:
            try:
                elapsed[id(row)] = _elapsed(runner, row, calls)
            except Exception as exc:
                row.fail(exc)
    finally:
        gc.enable()
    return elapsed


def _build(runner: asyncio.Runner, row: Row, spec: Spec) -> None:
    """Wrap work/awork for ``row`` and check that the wrapped call returns its result."""
    target: Wrapped = work if row.mode == "sync" else awork
    try:
        if row.mode == "sync":
            fn = spec.build(target)
            result = fn(ARG)
        else:
            # Built inside the loop: some wrappers bind the running loop when created.
            async def build() -> tuple[Wrapped, Any]:
                made = spec.build(target)
                return made, await made(ARG)

            fn, result = runner.run(build())
        if result != ARG:
            raise Unavailable(f"wrapped call returned {result!r}, expected {ARG!r}")
        row.fn = fn
    except Exception as exc:
        row.fail(exc)


def _rows(runner: asyncio.Runner) -> list[Row]:
    rows: list[Row] = []
    for mode in ("sync", "async"):
        for spec in SPECS:
            row = Row(mode, spec.library, spec.policy, spec.kind)
            if mode in spec.modes:
                _build(runner, row, spec)
            else:
                row.error = f"no {mode} form"
            rows.append(row)
    return rows


def _targets() -> list[Target]:
    """The four targets; targets 1 and 2 are checked in both modes where a peer has both."""
    ten = ("tenacity", "@retry")
    ten3 = ("tenacity", "@retry(stop=stop_after_attempt(3))")
    backoff = ("backoff", "on_exception(expo, Exception, max_tries=3)")
    retry = ("seawall", "Retry()")
    targets: list[Target] = []
    for mode in ("sync", "async"):
        targets.append(
            Target(
                1,
                f"{mode} Retry <= 1/20 of tenacity",
                (mode, *retry),
                ((mode, *ten), (mode, *ten3)),
                1 / 20,
                "1/20",
            )
        )
        targets.append(
            Target(1, f"{mode} Retry <= backoff", (mode, *retry), ((mode, *backoff),), 1.0, "1")
        )
    targets += [
        Target(
            2,
            "sync CircuitBreaker <= 1/2 of pybreaker",
            ("sync", "seawall", "CircuitBreaker()"),
            (("sync", "pybreaker", "CircuitBreaker()"),),
            0.5,
            "1/2",
        ),
    ]
    for mode in ("sync", "async"):
        targets.append(
            Target(
                2,
                f"{mode} CircuitBreaker <= 0.6 x circuitbreaker @circuit",
                (mode, "seawall", "CircuitBreaker()"),
                ((mode, "circuitbreaker", "@circuit"),),
                0.6,
                "0.6",
            )
        )
    targets += [
        Target(
            3,
            "sync standard() <= 1/6 of tenacity @retry",
            ("sync", "seawall", "standard()"),
            (("sync", *ten),),
            1 / 6,
            "1/6",
        ),
        Target(
            4,
            "async standard() <= 1/6 of tenacity async @retry",
            ("async", "seawall", "standard()"),
            (("async", *ten),),
            1 / 6,
            "1/6",
        ),
    ]
    return targets


def _label(key: tuple[Mode, str, str]) -> str:
    mode, library, policy = key
    return f"{mode} {library} {policy}"


def _evaluate(result: Result) -> None:
    for target in result.targets:
        try:
            row = result.row(*target.row)
            comparators = [result.row(*key) for key in target.comparators]
        except KeyError as exc:
            target.error = f"no such row: {exc}"
            continue
        missing = [r for r in [row, *comparators] if not r.ok]
        if missing:
            target.error = "; ".join(f"{_label(r.key)}: n/a ({r.error})" for r in missing)
            continue
        comparator = min(comparators, key=lambda r: r.median)  # the stricter reading
        target.comparator_used = _label(comparator.key)
        if comparator.median <= 0:
            target.error = f"{target.comparator_used} has no measurable overhead"
            continue
        target.ratio = row.median / comparator.median
        target.paired = [
            a / b for a, b in zip(row.overhead_us, comparator.overhead_us, strict=True) if b > 0
        ]


def run(
    calls: int = FULL_CALLS,
    repeats: int = FULL_REPEATS,
    *,
    rounds: int = ROUNDS,
    keep_gc: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Build every row, time them interleaved over ``repeats`` repeats, check the targets.

    Each repeat is ``rounds`` rounds; a round times every row for ``calls // rounds``
    calls, in an order rotated from one round to the next.
    """
    if repeats < 1 or calls < 1 or rounds < 1:
        raise ValueError("calls, repeats and rounds must be >= 1")
    rounds = min(rounds, calls)
    chunk = calls // rounds
    calls = chunk * rounds
    started = time.perf_counter()
    with asyncio.Runner() as runner:
        rows = _rows(runner)
        _round(runner, [r for r in rows if r.fn is not None], max(chunk, 100), keep_gc)  # warm-up
        index = 0
        for rep in range(repeats):
            if progress is not None:
                progress(f"repeat {rep + 1}/{repeats}")
            totals: dict[int, int] = {}
            for _ in range(rounds):
                live = [r for r in rows if r.fn is not None]
                shift = index % len(live) if live else 0
                index += 1
                for key, ns in _round(runner, live[shift:] + live[:shift], chunk, keep_gc).items():
                    totals[key] = totals.get(key, 0) + ns
            for row in rows:
                if row.fn is not None and id(row) in totals:
                    row.per_call_ns.append(totals[id(row)] / calls)
        _finish(rows, repeats)
    result = Result(
        calls, repeats, rounds, keep_gc, rows, _targets(), time.perf_counter() - started
    )
    _evaluate(result)
    return result


def _finish(rows: list[Row], repeats: int) -> None:
    """Turn per-call times into overheads above the same repeat's bare call."""
    for mode in ("sync", "async"):
        bare = next(r for r in rows if r.mode == mode and r.kind == "baseline")
        for row in rows:
            if row.mode != mode or row.error is not None:
                continue
            if len(row.per_call_ns) != repeats or len(bare.per_call_ns) != repeats:
                row.error = row.error or "incomplete measurements"
                continue
            row.overhead_us = [
                (t - b) / 1000.0 for t, b in zip(row.per_call_ns, bare.per_call_ns, strict=True)
            ]


# --- reporting ----------------------------------------------------------------------------


def _comparator(result: Result, row: Row) -> tuple[str, float | None]:
    ref = COMPARATORS.get((row.mode, row.kind))
    if ref is None or not row.ok:
        return "", None
    try:
        other = result.row(row.mode, *ref)
    except KeyError:
        return "", None
    name = f"{ref[0]} {ref[1]}"
    if not other.ok or other.median <= 0:
        return name, None
    return name, row.median / other.median


def format_table(result: Result) -> str:
    """The results table and the targets section, as printed."""
    lines: list[str] = []
    gc_note = "left on" if result.gc_enabled else "off while timing"
    lines.append(
        f"seawall overhead benchmark: Python {platform.python_version()} "
        f"({platform.python_implementation()}, {platform.machine()}): {result.calls:,} calls x "
        f"{result.repeats} repeats per row, each repeat {result.rounds} interleaved rounds, "
        f"gc {gc_note}, {result.seconds:.0f} s"
    )
    lines.append(
        " ".join(f"{name} {version or 'n/a'}" for name, version in versions().items())
        + f" (seawall source {seawall_fingerprint() or 'n/a'})"
    )
    lines.append(
        "overhead = time per wrapped call - time per bare call of the same repeat; "
        "median [min, max] over repeats"
    )
    for mode in ("sync", "async"):
        bare = next(r for r in result.rows if r.mode == mode and r.kind == "baseline")
        bare_us = statistics.median(bare.per_call_ns) / 1000.0 if bare.per_call_ns else 0.0
        lines.append("")
        lines.append(f"{mode} (bare call {bare_us:.3f} µs)")
        header = (
            f"  {'library':<15} {'policy':<43} {'overhead µs':>11} {'min':>8} {'max':>8}"
            f"  {'ratio':>6}  vs"
        )
        lines.append(header)
        lines.append("  " + "-" * (len(header) + 20))
        for row in result.rows:
            if row.mode != mode or row.kind == "baseline":
                continue
            if not row.ok:
                lines.append(f"  {row.library:<15} {row.policy:<43} n/a ({row.error})")
                continue
            name, ratio = _comparator(result, row)
            ratio_text = f"{ratio:6.3f}" if ratio is not None else f"{'-':>6}"
            lines.append(
                f"  {row.library:<15} {row.policy:<43} {row.median:11.3f} "
                f"{min(row.overhead_us):8.3f} {max(row.overhead_us):8.3f}  {ratio_text}  {name}"
            )
    lines.append("")
    lines.append("targets (ratio of median overheads, this run)")
    for target in result.targets:
        if target.ratio is None:
            lines.append(f"  FAIL  {target.number}. {target.name}: not measurable: {target.error}")
            continue
        verdict = "PASS" if target.passed else "FAIL"
        spread = (
            f"per-repeat {min(target.paired):.3f}-{max(target.paired):.3f}"
            if target.paired
            else "no per-repeat ratios"
        )
        lines.append(
            f"  {verdict}  {target.number}. {target.name}: {target.ratio:.3f} "
            f"({'<=' if target.passed else '>'} {target.limit_text} = {target.limit:.3f}; "
            f"{spread}; vs {target.comparator_used})"
        )
    lines.append("")
    lines.append("all targets met" if result.passed else "some targets missed")
    return "\n".join(line.rstrip() for line in lines)


def to_json(result: Result) -> dict[str, Any]:
    """A JSON-ready dict of the run (all per-repeat samples included)."""
    rows = []
    for row in result.rows:
        name, ratio = _comparator(result, row)
        rows.append(
            {
                "mode": row.mode,
                "library": row.library,
                "policy": row.policy,
                "kind": row.kind,
                "status": "ok" if row.ok else "n/a",
                "error": row.error,
                "overhead_us": {
                    "median": row.median,
                    "min": min(row.overhead_us),
                    "max": max(row.overhead_us),
                    "samples": row.overhead_us,
                }
                if row.ok
                else None,
                "per_call_us": [t / 1000.0 for t in row.per_call_ns],
                "comparator": name or None,
                "ratio": ratio,
            }
        )
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions(),
        "seawall_source_sha256": seawall_fingerprint(),
        "calls": result.calls,
        "repeats": result.repeats,
        "rounds": result.rounds,
        "gc_enabled": result.gc_enabled,
        "seconds": result.seconds,
        "rows": rows,
        "targets": [
            {
                "number": t.number,
                "name": t.name,
                "ratio": t.ratio,
                "limit": t.limit,
                "passed": t.passed,
                "comparator": t.comparator_used or None,
                "per_repeat_ratios": t.paired,
                "error": t.error,
            }
            for t in result.targets
        ],
        "passed": result.passed,
    }


LIBRARIES = (
    "seawall",
    "tenacity",
    "stamina",
    "backoff",
    "pybreaker",
    "circuitbreaker",
    "purgatory",
    "hyx",
)


def versions() -> dict[str, str | None]:
    """Installed version of every library in the table (``None``: not installed)."""
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def seawall_fingerprint() -> str | None:
    """A short hash of seawall's source: tells apart runs of a moving working tree."""
    try:
        import seawall
    except ImportError:
        return None
    digest = hashlib.sha256()
    root = Path(seawall.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Per-call success-path overhead of seawall vs peer resilience libraries.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK_CALLS:,} calls x {QUICK_REPEATS} repeats (numbers are rough)",
    )
    parser.add_argument("--calls", type=int, help=f"calls per row per repeat ({FULL_CALLS:,})")
    parser.add_argument(
        "--repeats", type=int, help=f"repeats, at least {MIN_REPEATS} ({FULL_REPEATS})"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--gc", action="store_true", help="leave the garbage collector on while timing"
    )
    parser.add_argument(
        "--no-metrics-cost", action="store_true", help="skip target 5 (the observed processes)"
    )
    return parser


def _observed() -> Any:
    """``benchmarks/_observed.py``, loaded by path (this file also runs as a script)."""
    path = Path(__file__).with_name("_observed.py")
    spec = importlib.util.spec_from_file_location("seawall_bench_observed", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 if every target is met, 1 otherwise."""
    parser = _parser()
    args = parser.parse_args(argv)
    calls = args.calls or (QUICK_CALLS if args.quick else FULL_CALLS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    if repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS} (a median needs repeats)")
    if calls < 1:
        parser.error("--calls must be positive")

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = run(calls, repeats, keep_gc=args.gc, progress=progress)
    print(format_table(result))
    report = to_json(result)
    passed = result.passed
    if not args.no_metrics_cost:
        progress("metrics cost: plain and observed processes")
        observed = _observed()
        cost = observed.measure(*((20_000, 2) if args.quick else (250_000, 20)))
        print()
        print(cost.report())
        report["metrics_cost"] = cost.as_json()
        passed = passed and cost.passed
        report["passed"] = passed
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
