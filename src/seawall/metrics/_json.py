"""The ``/seawall`` JSON snapshot: every policy and the HTTP and gRPC histograms, version 1.

The format is a contract with readers in other processes (the live dashboard, which
polls each instance): counters are cumulative since the process started, readers take
differences between samples, ``version`` lets the format grow, and readers ignore keys
they do not know.
"""

from __future__ import annotations

from typing import Any

from seawall._durations import BUCKETS, CLIENT, RPC_CLIENT, RPC_SERVER, SERVER
from seawall._snapshot import take

__all__ = ["VERSION", "snapshot_json"]

VERSION = 1


def snapshot_json(service: str | None = None) -> dict[str, Any]:
    """Every named policy of the process and the duration histograms, JSON-ready.

    ``rpc`` holds the gRPC histograms with their bounds in milliseconds, OpenTelemetry's
    unit for them; each row's ``sum`` is in that unit too.
    """
    taken = take(freeze=False)
    return {
        "version": VERSION,
        "service": service,
        "time": taken.time,
        "policies": [p.as_dict() for p in taken.policies],
        "http": {"buckets": list(BUCKETS), "server": SERVER.rows(), "client": CLIENT.rows()},
        "rpc": {
            "unit": "ms",
            "buckets": [b * 1000.0 for b in BUCKETS],
            "server": _milliseconds(RPC_SERVER.rows()),
            "client": _milliseconds(RPC_CLIENT.rows()),
        },
    }


def _milliseconds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["sum"] *= 1000.0
    return rows
