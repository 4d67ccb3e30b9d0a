"""``generate-load`` through :class:`seawall.chaos.LoadGenerator`, shaped for the journal.

The generator is open loop (requests are due at a fixed rate whatever the service does;
latency is measured from the due time; requests over ``max_in_flight`` are dropped and
counted). This adapter runs it until done or until the run's stop signal (Ctrl-C), and
turns its :class:`~seawall.chaos.LoadResult` into the journal's ``load`` entry: a
per-second series (``t``, ``requests``, ``ok``, ``errors`` - dropped requests included -,
``p50_ms``, ``p99_ms``) and a summary.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Alarm

__all__ = ["LoadSpec", "generate_load", "journal_entry", "percentile"]

_STOP_POLL = 0.1


@dataclass(frozen=True)
class LoadSpec:
    url: str
    rate: float
    duration: float
    method: str = "GET"
    timeout: float = 5.0
    max_in_flight: int = 256


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def journal_entry(result: dict[str, Any]) -> dict[str, Any]:
    """A :meth:`LoadResult.to_json` dict as the journal's load entry."""
    series = [
        {
            "t": int(point["second"]),
            "requests": int(point["sent"]) + int(point["dropped"]),
            "ok": int(point["ok"]),
            "errors": int(point["errors"]) + int(point["dropped"]),
            "dropped": int(point["dropped"]),
            "p50_ms": point.get("p50_ms"),
            "p99_ms": point.get("p99_ms"),
        }
        for point in result.get("series", [])
    ]
    latency = result.get("latency_ms") or {}
    errors = int(result.get("errors", 0)) + int(result.get("dropped", 0))
    summary = {
        "requests": int(result.get("scheduled", 0)),
        "ok": int(result.get("ok", 0)),
        "errors": errors,
        "dropped": int(result.get("dropped", 0)),
        "error_rate": result.get("error_rate", 0.0),
        "throughput_rps": result.get("throughput", 0.0),
        "statuses": result.get("statuses", {}),
        "exceptions": result.get("exceptions", {}),
    } | {f"{k}_ms": v for k, v in latency.items()}
    return {
        "url": result.get("url"),
        "method": result.get("method"),
        "rate": result.get("rate"),
        "duration": result.get("duration"),
        "elapsed": result.get("elapsed"),
        "generator": "seawall.chaos.LoadGenerator",
        "series": series,
        "summary": summary,
    }


class _StartRecordingClock:
    """The system clock, remembering its first reading: when the generator started."""

    def __init__(self) -> None:
        self.first: float | None = None

    def now(self) -> float:
        value = SYSTEM_CLOCK.now()
        if self.first is None:
            self.first = value
        return value

    def sleep(self, seconds: float) -> None:
        SYSTEM_CLOCK.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await SYSTEM_CLOCK.asleep(seconds)

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return SYSTEM_CLOCK.wait(event, timeout)

    async def wait_future(self, future: asyncio.Future[Any], limit: float | None) -> bool:
        return await SYSTEM_CLOCK.wait_future(future, limit)

    def cancel_at(self, when: float) -> Alarm:
        return SYSTEM_CLOCK.cancel_at(when)


async def _run_until_stopped(
    spec: LoadSpec, stop: threading.Event, clock: _StartRecordingClock
) -> dict[str, Any] | None:
    from seawall.chaos import LoadGenerator

    generator = LoadGenerator(
        spec.url,
        rate=spec.rate,
        duration=spec.duration,
        method=spec.method,
        timeout=spec.timeout,
        max_in_flight=spec.max_in_flight,
        clock=clock,
    )
    task = asyncio.create_task(generator.arun())
    while not task.done():
        if stop.is_set():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return None
        await asyncio.wait({task}, timeout=_STOP_POLL)
    result: dict[str, Any] = task.result().to_json()
    return result


def generate_load(spec: LoadSpec, stop: threading.Event) -> dict[str, Any]:
    """Run the load to its end; a JSON-serialisable journal entry.

    When ``stop`` is set first (the run was interrupted), the generator is cancelled and
    the entry says so, without a series: :class:`LoadGenerator` keeps no partial result.
    """
    clock = _StartRecordingClock()
    result = asyncio.run(_run_until_stopped(spec, stop, clock))
    # seconds ago the first request was due, so the series lines up with the run's time
    started_ago = SYSTEM_CLOCK.now() - clock.first if clock.first is not None else 0.0
    if result is None:
        return {
            "url": spec.url,
            "method": spec.method,
            "rate": spec.rate,
            "duration": spec.duration,
            "generator": "seawall.chaos.LoadGenerator",
            "stopped": True,
            "series": [],
            "summary": {"requests": 0, "errors": 0, "note": "stopped by the interruption"},
            "started_ago": started_ago,
        }
    return journal_entry(result) | {"started_ago": started_ago}
