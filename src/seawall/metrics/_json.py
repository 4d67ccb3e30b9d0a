"""The ``/seawall`` JSON snapshot: every policy and the HTTP histograms, version 1.

The format is a contract with readers in other processes (the live dashboard, which
polls each instance): counters are cumulative since the process started, readers take
differences between samples, ``version`` lets the format grow, and readers ignore keys
they do not know.
"""

from __future__ import annotations

from typing import Any

from seawall._durations import BUCKETS, CLIENT, SERVER
from seawall._snapshot import take

__all__ = ["VERSION", "snapshot_json"]

VERSION = 1


def snapshot_json(service: str | None = None) -> dict[str, Any]:
    """Every named policy of the process and the HTTP duration histograms, JSON-ready."""
    taken = take(freeze=False)
    return {
        "version": VERSION,
        "service": service,
        "time": taken.time,
        "policies": [p.as_dict() for p in taken.policies],
        "http": {"buckets": list(BUCKETS), "server": SERVER.rows(), "client": CLIENT.rows()},
    }
