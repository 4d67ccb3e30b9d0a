"""An open-loop HTTP load generator with HDR latency histograms.

Open loop: request ``i`` is due at ``t0 + i / rate`` whatever happened to the ones
before it, and its latency is measured from that due time, not from when it actually
went out. A closed-loop tool (each worker waits for its reply before sending the next)
slows down with the server and so hides overload; here queueing shows up as latency,
and when more than ``max_in_flight`` requests are outstanding the new ones are *dropped
and counted* rather than delayed, so the offered load stays what was asked for.

Bounded twice: by ``duration`` (no request is due after it) and by ``max_requests``;
after the last one is sent, stragglers get ``timeout`` seconds, then are cancelled.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from hdrh.histogram import HdrHistogram

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError

__all__ = ["LoadGenerator", "LoadResult", "LoadSecond"]

_HIGHEST_US = 3_600_000_000  # one hour: anything slower is clamped to it
_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


def _histogram(figures: int) -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, figures, word_size=8 if figures >= 3 else 4)


def _record(histogram: HdrHistogram, seconds: float) -> None:
    histogram.record_value(min(max(1, round(seconds * 1_000_000)), _HIGHEST_US))


def _ms(histogram: HdrHistogram, percentile: float) -> float | None:
    if histogram.get_total_count() == 0:
        return None
    value: int = histogram.get_value_at_percentile(percentile)
    return round(value / 1000.0, 3)


@dataclass(frozen=True, slots=True)
class LoadSecond:
    """One second of a run, by when requests were *due*: counts and latency percentiles."""

    second: int
    sent: int
    ok: int
    errors: int
    dropped: int
    p50_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a run did: counts, latency percentiles (ms), and a per-second series.

    ``statuses`` counts responses by status code, ``exceptions`` failed requests by
    exception class; ``errors`` = responses that were not ok + exceptions. Latency
    percentiles cover every response (ok or not); ``histogram`` is the HDR histogram
    (microseconds) in its standard compressed base64 form, for merging or plotting.
    """

    url: str
    method: str
    rate: float
    duration: float
    elapsed: float
    scheduled: int
    sent: int
    ok: int
    errors: int
    dropped: int
    statuses: Mapping[str, int]
    exceptions: Mapping[str, int]
    latency_ms: Mapping[str, float | None]
    series: tuple[LoadSecond, ...]
    histogram: str = field(repr=False)

    @property
    def throughput(self) -> float:
        """Ok responses per second of the run."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def error_rate(self) -> float:
        """Errors and drops as a share of everything scheduled."""
        return (self.errors + self.dropped) / self.scheduled if self.scheduled else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses"] = dict(self.statuses)
        data["exceptions"] = dict(self.exceptions)
        data["latency_ms"] = dict(self.latency_ms)
        data["series"] = [asdict(s) for s in self.series]
        data["throughput"] = round(self.throughput, 3)
        data["error_rate"] = round(self.error_rate, 6)
        return data

    def summary(self) -> str:
        lat = self.latency_ms
        return (
            f"{self.method} {self.url} at {self.rate:g}/s for {self.duration:g}s: "
            f"sent {self.sent}, ok {self.ok}, errors {self.errors}, dropped {self.dropped}; "
            f"latency ms p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} "
            f"p999 {lat['p999']} max {lat['max']}"
        )


class _Second:
    __slots__ = ("dropped", "errors", "histogram", "ok", "sent")

    def __init__(self) -> None:
        self.sent = self.ok = self.errors = self.dropped = 0
        self.histogram = _histogram(2)


def _default_ok(response: httpx.Response) -> bool:
    return response.status_code < 400


class LoadGenerator:
    """Send ``rate`` requests per second to ``url`` for ``duration`` seconds, open loop.

    ::

        result = LoadGenerator("http://127.0.0.1:8000/pay", rate=200, duration=30).run()
        print(result.summary())

    ``ok`` decides which responses count as successes (default: status < 400).
    ``transport`` or ``client`` replace the default httpx client (e.g. an
    ``httpx.ASGITransport`` for in-process runs); ``clock`` schedules and times requests.
    """

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        duration: float,
        max_requests: int | None = None,
        max_in_flight: int = 256,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float = 10.0,
        ok: Callable[[httpx.Response], bool] = _default_ok,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ConfigError(f"load generator: rate must be a positive number, got {rate!r}")
        if not (duration > 0 and math.isfinite(duration)):
            raise ConfigError(
                f"load generator: duration must be positive and finite, got {duration!r}"
            )
        if max_requests is not None and max_requests < 0:
            raise ConfigError("load generator: max_requests must be >= 0")
        if max_in_flight < 1:
            raise ConfigError("load generator: max_in_flight must be >= 1")
        if not timeout > 0:
            raise ConfigError("load generator: timeout must be > 0")
        self.url = url
        self.rate = float(rate)
        self.duration = float(duration)
        self.max_requests = max_requests
        self.max_in_flight = max_in_flight
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.content = content
        self.timeout = timeout
        self.ok = ok
        self.transport = transport
        self.client = client
        self.clock = clock

    @property
    def planned(self) -> int:
        """How many requests the schedule holds: ``rate x duration``, capped by max_requests."""
        planned = math.ceil(self.rate * self.duration - 1e-9)
        return planned if self.max_requests is None else min(planned, self.max_requests)

    def run(self) -> LoadResult:
        """Run on a fresh event loop (from sync code)."""
        return asyncio.run(self.arun())

    async def arun(self) -> LoadResult:
        """Run on the current event loop."""
        if self.client is not None:
            return await self._run(self.client)
        limits = httpx.Limits(
            max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
        )
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout, limits=limits
        ) as client:
            return await self._run(client)

    async def _run(self, client: httpx.AsyncClient) -> LoadResult:
        clock = self.clock
        overall = _histogram(3)
        seconds: dict[int, _Second] = {}
        statuses: Counter[str] = Counter()
        exceptions: Counter[str] = Counter()
        in_flight: set[asyncio.Task[None]] = set()
        totals = Counter[str]()

        def second(index: int) -> _Second:
            return seconds.setdefault(int(index / self.rate), _Second())

        async def one(index: int, due: float) -> None:
            bucket = second(index)
            try:
                response = await client.request(
                    self.method, self.url, headers=self.headers, content=self.content
                )
            except (Exception, asyncio.CancelledError) as exc:
                # A load generator counts failures, it never stops on one; a request
                # still running when the run ends is cancelled and counted.
                cancelled = isinstance(exc, asyncio.CancelledError)
                exceptions["Cancelled" if cancelled else type(exc).__name__] += 1
                bucket.errors += 1
                totals["errors"] += 1
                if cancelled:
                    raise
                return
            latency = clock.now() - due
            _record(overall, latency)
            _record(bucket.histogram, latency)
            statuses[str(response.status_code)] += 1
            if self.ok(response):
                bucket.ok += 1
                totals["ok"] += 1
            else:
                bucket.errors += 1
                totals["errors"] += 1

        planned = self.planned
        start = clock.now()
        index = 0
        while index < planned:
            now = clock.now()
            while index < planned and start + index / self.rate <= now:
                bucket = second(index)
                if len(in_flight) >= self.max_in_flight:
                    bucket.dropped += 1
                    totals["dropped"] += 1
                else:
                    task = asyncio.create_task(one(index, start + index / self.rate))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    bucket.sent += 1
                    totals["sent"] += 1
                index += 1
            if index < planned:
                await clock.asleep(start + index / self.rate - clock.now())
        if in_flight:
            _, stragglers = await asyncio.wait(set(in_flight), timeout=self.timeout)
            for task in stragglers:
                task.cancel()
            if stragglers:
                await asyncio.gather(*stragglers, return_exceptions=True)
        elapsed = clock.now() - start
        latency: dict[str, float | None] = {k: _ms(overall, p) for k, p in _PERCENTILES.items()}
        has_data = overall.get_total_count() > 0
        latency["max"] = round(overall.get_max_value() / 1000.0, 3) if has_data else None
        latency["mean"] = round(overall.get_mean_value() / 1000.0, 3) if has_data else None
        series = tuple(
            LoadSecond(
                second=s,
                sent=b.sent,
                ok=b.ok,
                errors=b.errors,
                dropped=b.dropped,
                p50_ms=_ms(b.histogram, 50.0),
                p99_ms=_ms(b.histogram, 99.0),
            )
            for s, b in sorted(seconds.items())
        )
        return LoadResult(
            url=self.url,
            method=self.method,
            rate=self.rate,
            duration=self.duration,
            elapsed=round(elapsed, 6),
            scheduled=index,
            sent=totals["sent"],
            ok=totals["ok"],
            errors=totals["errors"],
            dropped=totals["dropped"],
            statuses=dict(sorted(statuses.items())),
            exceptions=dict(sorted(exceptions.items())),
            latency_ms=latency,
            series=series,
            histogram=overall.encode().decode("ascii"),
        )
