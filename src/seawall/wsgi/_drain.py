"""Draining shared by every worker process of one server, for the readiness probe.

A pre-fork server (gunicorn) has one master and several workers; Kubernetes sends SIGTERM
to the master only, yet every worker answers ``/readyz``. The flag is one byte of
anonymous shared memory mapped by the master before it forks, so a worker sees the
master's "draining" at once, without a file, a pipe or a round trip.
"""

from __future__ import annotations

import mmap

__all__ = ["draining", "share", "start"]

_flag: mmap.mmap | None = None


def share() -> None:
    """Map the shared flag (in the master, before the workers fork). Idempotent."""
    global _flag
    if _flag is None:
        _flag = mmap.mmap(-1, 1)


def start() -> None:
    """Mark every process sharing the flag as draining."""
    if _flag is not None:
        _flag[0] = 1


def draining() -> bool:
    """Whether the server this process belongs to is draining."""
    return _flag is not None and _flag[0] == 1
