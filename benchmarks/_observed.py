"""What watching seawall costs: ``standard()`` in an observed process against a plain one.

Two child processes run the same decorated ``standard()`` call in a tight loop:

* *plain*: no collector, no tracer, only the measured pipeline;
* *observed*: 1,000 further named policies (250 ``standard()`` pipelines, each called once
  so every series has counts), seawall's collector in prometheus_client's default
  registry, a thread scraping once per second of timed work what ``protect()`` serves at
  ``/metrics`` (``seawall.metrics.prometheus_text()``), and tracing instrumented with the
  sampler off (``TracerProvider(sampler=ALWAYS_OFF)``) when this build has tracing;
* *generate_latest*: the same, but the thread calls prometheus_client's
  ``generate_latest()`` over the default registry instead: what an application that
  serves its own registry pays.

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


MODES = ("plain", "observed", "generate_latest")


class _Scraper:
    """Scrapes once per second of *timed* work, never between rounds."""

    def __init__(self, scrape: Any) -> None:
        self._scrape = scrape
        self._active = threading.Event()
        self._stopped = threading.Event()  # set while not timing: wakes the wait at once
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
            woken = self._stopped.wait(max(due, 0.0))
            due -= time.monotonic() - started
            if not woken and due <= 0:
                began = time.perf_counter()
                self._scrape()
                self.seconds += time.perf_counter() - began
                self.scrapes += 1
                due = SCRAPE_EVERY
            self._paused.set()

    def start(self) -> None:
        self._stopped.clear()
        self._active.set()

    def pause(self) -> None:
        self._active.clear()
        self._stopped.set()
        self._paused.wait()


def _child(mode: str) -> None:
    """Serve ``<calls>`` lines on stdin with the nanoseconds those calls took."""
    import seawall

    pipeline = seawall.standard("bench")
    wrapped = pipeline(work)
    info: dict[str, Any] = {"mode": mode, "policies": 0, "tracing": "off"}
    scraper: _Scraper | None = None
    keep: list[Any] = []
    if mode != "plain":
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
        if mode == "observed":
            scraper = _Scraper(seawall.metrics.prometheus_text)
        else:
            from prometheus_client import REGISTRY, generate_latest

            scraper = _Scraper(lambda: generate_latest(REGISTRY))
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
    """Each observed side's time per call over the plain side's, from one run."""

    calls_per_round: int
    rounds: int
    ns: dict[str, list[int]] = field(default_factory=lambda: {m: [] for m in MODES})
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    def ratio(self, mode: str = "observed") -> float | None:
        plain = sum(self.ns["plain"])
        if self.error is not None or plain == 0 or not self.ns[mode]:
            return None
        return sum(self.ns[mode]) / plain

    @property
    def passed(self) -> bool:
        ratio = self.ratio()
        return ratio is not None and ratio <= TARGET

    def per_call_us(self, mode: str) -> float:
        return sum(self.ns[mode]) / (len(self.ns[mode]) * self.calls_per_round) / 1000.0

    def _line(self, mode: str, what: str) -> list[str]:
        ratio = self.ratio(mode)
        assert ratio is not None
        info = self.info.get(mode, {})
        scrapes = info.get("scrapes", 0)
        scrape_ms = 1000 * info.get("scrape_seconds", 0.0) / scrapes if scrapes else 0.0
        per_round = [o / p for o, p in zip(self.ns[mode], self.ns["plain"], strict=True) if p]
        # The scrapes' own share of the side's time: steadier than the ratio on a busy
        # machine, where round-to-round noise can exceed the effect.
        share = info.get("scrape_seconds", 0.0) / (sum(self.ns[mode]) / 1e9 or 1.0)
        return [
            f"  {mode + ':':<16}{self.per_call_us(mode):.3f} us/call = {ratio:.3f} x plain"
            f" (per round {min(per_round):.2f}-{max(per_round):.2f},"
            f" median {statistics.median(per_round):.2f}); {what}: {scrapes} scrapes"
            f" of {scrape_ms:.1f} ms, {share:.1%} of its time",
        ]

    def report(self) -> str:
        if self.ratio() is None:
            return f"Metrics cost: not measured ({self.error})"
        info = self.info.get("observed", {})
        lines = [
            "Metrics cost: the same decorated sync standard() call in three processes,"
            f" {self.rounds} rounds of {self.calls_per_round:,} calls each",
            f"  {'plain:':<16}{self.per_call_us('plain'):.3f} us/call"
            " (no collector, no tracer, no other policies)",
            f"  observed sides: {info.get('policies', 0)} more named policies, one scrape per"
            f" second of work; tracing: {info.get('tracing')}",
            *self._line("observed", "/metrics (seawall's exposition)"),
            *self._line("generate_latest", "prometheus_client generate_latest()"),
            f"  target 5: observed <= {TARGET:.2f} x plain: " + ("ok" if self.passed else "MISSED"),
        ]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls_per_round": self.calls_per_round,
            "rounds": self.rounds,
            "ns": self.ns,
            "info": self.info,
            "ratio": self.ratio(),
            "ratio_generate_latest": self.ratio("generate_latest"),
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
        child.stdout.close()
        if child.stdin is not None:
            child.stdin.close()
        raise RuntimeError(f"the {mode} child exited before it was ready")
    return child, json.loads(line)


def _time(child: subprocess.Popen[str], calls: int) -> int:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(f"{calls}\n")
    child.stdin.flush()
    return int(child.stdout.readline())


def measure(calls_per_round: int = 250_000, rounds: int = 20) -> Cost:
    """Rotate the three children for ``rounds`` rounds of ``calls_per_round`` calls each."""
    cost = Cost(calls_per_round, rounds)
    children: dict[str, subprocess.Popen[str]] = {}
    try:
        for mode in MODES:
            children[mode], cost.info[mode] = _spawn(mode)
        for index in range(rounds):
            shift = index % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                cost.ns[mode].append(_time(children[mode], calls_per_round))
        for mode, child in children.items():
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.close()
            if mode != "plain":
                cost.info[mode].update(json.loads(child.stdout.readline() or "{}"))
    except (OSError, RuntimeError, ValueError) as exc:
        cost.error = str(exc)
    finally:
        for child in children.values():
            if child.stdin is not None and not child.stdin.closed:
                child.stdin.close()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
    return cost


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in MODES:
        _child(sys.argv[1])
    else:
        print(measure().report())
