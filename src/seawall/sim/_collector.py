"""How often Python's cycle collector runs while a world runs.

A run allocates millions of short-lived objects (tasks, futures, heap entries, jobs)
that reference counting frees, and keeps a large, slowly changing set alive: every
client's policies, and the queue of a service that falls behind. CPython's default
schedule collects the young objects every 700 allocations and, as survivors pile up,
scans every old object again and again; in the 10,000-client metastable run that was
more than half of the run's time, and it found no garbage: a simulated request makes no
reference cycles. So while the engine runs, the young objects are collected every
:data:`YOUNG` allocations and the old ones not at all. The previous schedule comes back
when the run ends, and with it the next full collection finds any cycle the run left.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG", "sparse_collection"]

YOUNG = 100_000  # allocations between two collections of the young objects
_NEVER = 1 << 30  # a count of collections no run reaches

_lock = threading.Lock()
_runs = 0  # worlds running now, in any thread
_saved: tuple[int, ...] = ()


def _sparse(saved: tuple[int, ...]) -> tuple[int, ...]:
    if sys.version_info >= (3, 14):
        # The incremental collector: the second value is how slowly each young
        # collection scans a part of the old objects; a third is ignored.
        return (YOUNG, _NEVER)
    # The generational one: the third value is how many collections of the middle
    # generation come before one of the old.
    return (YOUNG, saved[1], _NEVER)


@contextmanager
def sparse_collection() -> Iterator[None]:
    """Collect sparsely for the duration of the ``with`` block, then as before.

    Worlds running in several threads at once share one schedule: the first to start
    saves the previous one and the last to finish restores it.
    """
    global _runs, _saved
    with _lock:
        if _runs == 0:
            _saved = gc.get_threshold()
            if _saved[0]:  # a threshold of 0 is collection switched off: left so
                gc.set_threshold(*_sparse(_saved))
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_saved)
