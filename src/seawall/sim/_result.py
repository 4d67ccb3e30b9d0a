"""What a run reports: per-service totals, and per-interval time series.

The totals are the quantities queueing theory predicts (arrivals, waits, responses,
time-averaged occupancy, utilisation), so a model can be checked against a formula
before it is trusted with a question no formula answers. The time series show what a
total hides: the minute a queue built up, or goodput that never came back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ClientInterval", "ClientStats", "Interval", "Result", "ServiceStats"]


@dataclass(frozen=True, slots=True)
class Interval:
    """One service over one interval ``[start, end)`` of virtual time.

    ``offered`` requests arrived and ``admitted`` of them found a place; ``goodput``
    requests completed successfully in the interval and ``errors`` were refused (the
    queue was full) or completed with an error. Over every request that completed in the
    interval: the median and 99th-percentile response time ``p50``/``p99``, the mean
    queue wait ``mean_wait`` and response ``mean_response`` (NaN when none completed),
    and ``delayed``, how many had to queue.
    ``mean_in_system`` and ``mean_queue_length`` are the time-averaged numbers of requests
    in the service and waiting for a server over the interval; ``queue_length`` is the
    number waiting at ``end``. ``breakers_open`` counts the circuit breakers in this
    service's replicas' policies (toward what it calls) that are not closed at ``end``.
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
    breakers_open: int


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """One service over the whole run.

    ``completed`` counts requests that left, ``failed`` of them with an error (among
    those, ``dropped`` left without service because their deadline had passed); ``rejected``
    were refused on arrival. ``mean_wait`` (Wq) and
    ``mean_response`` (W) average over completed requests;
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
    failed: int
    dropped: int
    delayed: int
    mean_wait: float
    mean_response: float
    mean_in_system: float
    mean_queue_length: float
    utilization: float
    throughput: float
    series: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class ClientStats:
    """One group of callers over the whole run: closed-loop clients, or a load's requests.

    ``clients`` is the number of calling instances (1 for an open-loop load).
    ``requests`` were sent (each one call of the client's policy, however many attempts
    it made), ``succeeded`` and ``failed`` were answered; ``mean_response`` is the mean
    time from sending to the answer, over answered requests (NaN when none were).
    ``series`` has one row per interval of the run, as the services' do: requests sent
    in it, and requests that ended in it, in success or in failure. What the callers
    saw is the goodput that counts: a service may complete work nobody waits for any more.
    """

    name: str
    clients: int
    requests: int
    succeeded: int
    failed: int
    mean_response: float
    series: tuple[ClientInterval, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientInterval:
    """One client group over one interval ``[start, end)``: sent, succeeded, failed."""

    start: float
    end: float
    sent: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class Result:
    """A finished run: its horizon, seed, engine event count, services' and clients' stats."""

    seed: int
    until: float
    events: int
    services: Mapping[str, ServiceStats]
    clients: Mapping[str, ClientStats]
