"""What watching seawall costs: ``standard()`` in an observed process against a plain one.

Two child processes run the same decorated ``standard()`` call in a tight loop:

* *plain*: no collector, no tracer, only the measured pipeline;
* *observed*: 1,000 further named policies (250 ``standard()`` pipelines, each called once
  so every series has counts), seawall's collector in prometheus_client's default
  registry, a thread calling ``generate_latest()`` once per second of timed work, and
  tracing instrumented with the sampler off (``TracerProvider(sampler=ALWAYS_OFF)``) when
  this build has tracing.

Why two processes: a scrape thread, a tracer and a catalog are process-wide, so the plain
side must be a process without them. The two children take turns (one times while the
other waits on its pipe), rounds alternate which goes first, and each scrape thread runs
only while its own process is timing, so neither side pays for the other's work.

Why totals and not medians: a scrape lands in one round out of several; a median of
rounds would hide it. The figure is the observed side's total time per call over the
plain side's, over every round, so each second of observed work carries its scrape.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OBSERVED_POLICIES", "TARGET", "Cost", "measure"]

OBSERVED_POLICIES = 1000
TARGET = 1.10  # observed <= plain + 10 %
SCRAPE_EVERY = 1.0  # seconds of timed work


def work(x: int) -> int:
    return x


class _Scraper:
    """Calls ``generate_latest()`` once per second of *timed* work, never between rounds."""

    def __init__(self) -> None:
        from prometheus_client import REGISTRY, generate_latest

        self._scrape = lambda: generate_latest(REGISTRY)
        self._active = threading.Event()
        self._paused = threading.Event()
        self._paused.set()
        self._stop = False
        self.scrapes = 0
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = SCRAPE_EVERY
        while True:
            self._active.wait()
            if self._stop:
                return
            started = time.monotonic()
            self._paused.clear()
            woken = self._wait_inactive(due)
            due -= time.monotonic() - started
            if not woken and due <= 0:
                began = time.perf_counter()
                self._scrape()
                self.seconds += time.perf_counter() - began
                self.scrapes += 1
                due = SCRAPE_EVERY
            self._paused.set()

    def _wait_inactive(self, seconds: float) -> bool:
        deadline = time.monotonic() + max(seconds, 0.0)
        while self._active.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.05))
        return True

    def start(self) -> None:
        self._active.set()

    def pause(self) -> None:
        self._active.clear()
        self._paused.wait()


def _child(mode: str) -> None:
    """Serve ``<calls>`` lines on stdin with the nanoseconds those calls took."""
    import seawall

    pipeline = seawall.standard("bench")
    wrapped = pipeline(work)
    info: dict[str, Any] = {"mode": mode, "policies": 0, "tracing": "off"}
    scraper: _Scraper | None = None
    keep: list[Any] = []
    if mode == "observed":
        import seawall.metrics

        keep = [seawall.standard(f"dependency-{i}") for i in range(OBSERVED_POLICIES // 4)]
        for other in keep:
            other.call(work, 1)
        info["policies"] = len(keep) * 4
        seawall.metrics.register()
        try:
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

            seawall.metrics.instrument(tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
            info["tracing"] = "instrumented, sampler off"
        except (ImportError, seawall.ConfigError) as exc:
            info["tracing"] = f"not measured: {exc}"
        scraper = _Scraper()
    for _ in range(2000):  # warm-up
        wrapped(1)
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        calls = int(line)
        if scraper is not None:
            scraper.start()
        started = time.perf_counter_ns()
        for i in range(calls):
            wrapped(i)
        elapsed = time.perf_counter_ns() - started
        if scraper is not None:
            scraper.pause()
        print(elapsed, flush=True)
    if scraper is not None:
        print(json.dumps({"scrapes": scraper.scrapes, "scrape_seconds": scraper.seconds}))
    del keep


@dataclass
class Cost:
    """The observed side's time per call over the plain side's, from one run."""

    calls_per_round: int
    rounds: int
    plain_ns: list[int] = field(default_factory=list)
    observed_ns: list[int] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.error is not None or not self.plain_ns or sum(self.plain_ns) == 0:
            return None
        return sum(self.observed_ns) / sum(self.plain_ns)

    @property
    def passed(self) -> bool:
        return self.ratio is not None and self.ratio <= TARGET

    def per_call_us(self, side: list[int]) -> float:
        return sum(side) / (len(side) * self.calls_per_round) / 1000.0

    def report(self) -> str:
        if self.ratio is None:
            return f"Metrics cost: not measured ({self.error})"
        ratios = [o / p for o, p in zip(self.observed_ns, self.plain_ns, strict=True) if p]
        scrapes = self.info.get("scrapes", 0)
        scrape_ms = 1000 * self.info.get("scrape_seconds", 0.0) / scrapes if scrapes else 0.0
        verdict = "ok" if self.passed else "MISSED"
        return "\n".join(
            [
                "Metrics cost (sync standard(), the same decorated call in two processes):",
                f"  plain:    {self.per_call_us(self.plain_ns):.3f} us/call"
                " (no collector, no tracer)",
                f"  observed: {self.per_call_us(self.observed_ns):.3f} us/call"
                f" ({self.info.get('policies', 0)} more named policies, "
                f"{scrapes} scrapes of {scrape_ms:.1f} ms each, one per second of work; "
                f"tracing: {self.info.get('tracing')})",
                f"  observed / plain = {self.ratio:.3f} over {self.rounds} rounds of "
                f"{self.calls_per_round:,} calls (per-round ratios "
                f"{min(ratios):.2f}-{max(ratios):.2f}, median {statistics.median(ratios):.2f})",
                f"  target 5: observed <= {TARGET:.2f} x plain: {verdict}",
            ]
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "calls_per_round": self.calls_per_round,
            "rounds": self.rounds,
            "plain_ns": self.plain_ns,
            "observed_ns": self.observed_ns,
            "info": self.info,
            "ratio": self.ratio,
            "target": TARGET,
            "passed": self.passed,
            "error": self.error,
        }


def _spawn(mode: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    child = subprocess.Popen(
        [sys.executable, __file__, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.wait(timeout=10)
        raise RuntimeError(f"the {mode} child exited before it was ready")
    return child, json.loads(line)


def _time(child: subprocess.Popen[str], calls: int) -> int:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(f"{calls}\n")
    child.stdin.flush()
    return int(child.stdout.readline())


def measure(calls_per_round: int = 250_000, rounds: int = 20) -> Cost:
    """Alternate the two children for ``rounds`` rounds of ``calls_per_round`` calls each."""
    cost = Cost(calls_per_round, rounds)
    children: list[subprocess.Popen[str]] = []
    try:
        plain, _ = _spawn("plain")
        children.append(plain)
        observed, info = _spawn("observed")
        children.append(observed)
        cost.info.update(info)
        for index in range(rounds):
            order = [(plain, cost.plain_ns), (observed, cost.observed_ns)]
            for child, side in order if index % 2 == 0 else order[::-1]:
                side.append(_time(child, calls_per_round))
        assert observed.stdin is not None
        assert observed.stdout is not None
        observed.stdin.close()
        cost.info.update(json.loads(observed.stdout.readline() or "{}"))
    except (OSError, RuntimeError, ValueError) as exc:
        cost.error = str(exc)
    finally:
        for child in children:
            if child.stdin is not None and not child.stdin.closed:
                child.stdin.close()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return cost


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("plain", "observed"):
        _child(sys.argv[1])
    else:
        print(measure().report())
