"""Game days: inject faults for real and put load on the result.

* :class:`FaultProxy` and :class:`ProxyServer` - a TCP proxy (asyncio) that injects
  Toxiproxy's toxics (:class:`Toxic`: latency, bandwidth, slow_close, timeout,
  reset_peer, slicer, limit_data, noop) on either stream, with a control API compatible with
  Toxiproxy's REST API, so existing Toxiproxy clients drive it unchanged. ``seawall
  proxy`` runs it from the command line; the pytest fixture ``fault_proxy`` in tests.
* :class:`ChaosMiddleware` (ASGI) and :class:`ChaosTransport` /
  :class:`AsyncChaosTransport` (httpx) - in-process faults like Polly's chaos
  strategies: :class:`Latency`, :class:`ErrorResponse`, :class:`Fault` (an exception),
  :class:`Abort`, each at an injection rate; off unless ``enabled=True``.
* :class:`LoadGenerator` - open-loop HTTP load (constant arrival rate) with HDR latency
  percentiles and a per-second series (:class:`LoadResult`).

``docs/chaos.md`` has the toxics table, the API, the CLI and the config file format.
Needs the ``seawall[chaos]`` extra.
"""

from __future__ import annotations

from seawall.chaos._fault import FaultProxy
from seawall.chaos._inprocess import (
    Abort,
    AsyncChaosTransport,
    ChaosMiddleware,
    ChaosTransport,
    ErrorResponse,
    Fault,
    FaultInjected,
    InjectedFault,
    Latency,
)
from seawall.chaos._loadgen import LoadGenerator, LoadResult, LoadSecond
from seawall.chaos._server import ProxyServer
from seawall.chaos._spec import TOXIC_ATTRIBUTES, ProxyConfig, Toxic, load_config

__all__ = [
    "TOXIC_ATTRIBUTES",
    "Abort",
    "AsyncChaosTransport",
    "ChaosMiddleware",
    "ChaosTransport",
    "ErrorResponse",
    "Fault",
    "FaultInjected",
    "FaultProxy",
    "InjectedFault",
    "Latency",
    "LoadGenerator",
    "LoadResult",
    "LoadSecond",
    "ProxyConfig",
    "ProxyServer",
    "Toxic",
    "load_config",
]
