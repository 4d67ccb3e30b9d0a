"""A discrete-event world on virtual time, checked against queueing theory.

Build services, the traffic that reaches them and which service calls which through
which seawall policy (built with ``world.clock`` and ``world.rng``, and run unchanged);
run the world for virtual hours in seconds of wall time; read waits, responses,
occupancy, utilisation and per-interval time series. Deterministic for a seed.
"""

from seawall.sim._calls import ServiceError
from seawall.sim._clock import WorldClock
from seawall.sim._distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    LogNormal,
    Mixture,
    Uniform,
    bimodal,
    deterministic,
    empirical,
    exponential,
    lognormal,
    mixture,
    uniform,
)
from seawall.sim._engine import Engine, Process, Signal, Sleep
from seawall.sim._result import ClientInterval, ClientStats, Interval, Result, ServiceStats
from seawall.sim._service import Endpoint, Service
from seawall.sim._world import ClientGroup, PolicyFactory, World

__all__ = [
    "ClientGroup",
    "ClientInterval",
    "ClientStats",
    "Deterministic",
    "Distribution",
    "Empirical",
    "Endpoint",
    "Engine",
    "Exponential",
    "Interval",
    "LogNormal",
    "Mixture",
    "PolicyFactory",
    "Process",
    "Result",
    "Service",
    "ServiceError",
    "ServiceStats",
    "Signal",
    "Sleep",
    "Uniform",
    "World",
    "WorldClock",
    "bimodal",
    "deterministic",
    "empirical",
    "exponential",
    "lognormal",
    "mixture",
    "uniform",
]
