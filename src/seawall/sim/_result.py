"""What a run reports: per-service totals, and per-interval time series.

The totals are the quantities queueing theory predicts (arrivals, waits, responses,
time-averaged occupancy, utilisation), so a model can be checked against a formula
before it is trusted with a question no formula answers. The time series show what a
total hides: the minute a queue built up, or goodput that never came back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Interval", "Result", "ServiceStats"]


@dataclass(frozen=True, slots=True)
class Interval:
    """One service over one interval ``[start, end)`` of virtual time.

    ``offered`` requests arrived, ``admitted`` of them found a place, ``errors`` were
    refused (the queue was full); ``goodput`` requests completed in the interval, with
    the median and 99th-percentile response time ``p50``/``p99`` and mean queue wait
    ``mean_wait`` of those (NaN when none completed); ``delayed`` of them had to queue.
    ``mean_in_system`` and ``mean_queue_length`` are the time-averaged numbers of requests
    in the service and waiting for a server over the interval; ``queue_length`` is the
    number waiting at ``end``.
    """

    start: float
    end: float
    offered: int
    admitted: int
    goodput: int
    errors: int
    delayed: int
    mean_wait: float
    mean_response: float
    p50: float
    p99: float
    mean_in_system: float
    mean_queue_length: float
    queue_length: int


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """One service over the whole run.

    ``mean_wait`` (Wq) and ``mean_response`` (W) average over completed requests;
    ``mean_in_system`` (L) and ``mean_queue_length`` (Lq) are time averages over the run;
    ``utilization`` is the mean fraction of servers busy; ``throughput`` is completions
    per virtual second. Little's law ties them: L = throughput * W.
    """

    name: str
    servers: int
    queue_limit: int | None
    arrivals: int
    admitted: int
    completed: int
    rejected: int
    delayed: int
    mean_wait: float
    mean_response: float
    mean_in_system: float
    mean_queue_length: float
    utilization: float
    throughput: float
    series: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """A finished run: its horizon, seed, engine event count and each service's stats."""

    seed: int
    until: float
    events: int
    services: Mapping[str, ServiceStats]
