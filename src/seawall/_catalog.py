"""The process-wide catalog of named policies, held by weak reference.

Every policy enrols itself when it is made, so :func:`seawall.snapshot`, the Prometheus
collector and the OpenTelemetry instruments can read its counters when they are asked,
and the call path never touches a metrics library. The catalog holds weak references
only: it never keeps a policy alive, and a policy that is garbage leaves it.

A client's per-host policies are enrolled under the client's name with a ``target``
label (``host:port``). Targets come from the outside world, so at most
:data:`MAX_TARGETS` distinct values are kept per process; every later host is labelled
``other``, which keeps the number of metric series bounded whatever a client talks to.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_TARGETS", "OTHER", "enroll", "entries", "target_label"]

MAX_TARGETS = 100
OTHER = "other"

# id(policy) -> (weak reference, name label or None for the policy's own, target label)
_entries: dict[int, tuple[weakref.ref[Any], str | None, str | None]] = {}
_lock = threading.Lock()
_targets: set[str] = set()


def _forget(key: int) -> Callable[[weakref.ref[Any]], None]:
    def forget(ref: weakref.ref[Any]) -> None:
        # Only the entry of this very object: its id may already belong to a new one.
        entry = _entries.get(key)
        if entry is not None and entry[0] is ref:
            _entries.pop(key, None)

    return forget


def enroll(policy: object, name: str | None = None, target: str | None = None) -> None:
    """Add ``policy`` to the catalog (again: its labels change), weakly held."""
    key = id(policy)
    with _lock:
        entry = _entries.get(key)
        ref = entry[0] if entry is not None and entry[0]() is policy else None
        if ref is None:
            ref = weakref.ref(policy, _forget(key))
        _entries[key] = (ref, name, target)


def entries() -> list[tuple[Any, str | None, str | None]]:
    """Every live enrolled object with its name and target labels, oldest first."""
    with _lock:
        found = list(_entries.values())
    live = []
    for ref, name, target in found:
        policy = ref()
        if policy is not None:
            live.append((policy, name, target))
    return live


def target_label(target: str) -> str:
    """``target``, or ``other`` once :data:`MAX_TARGETS` distinct targets were seen."""
    if target in _targets:
        return target
    with _lock:
        if target in _targets or len(_targets) < MAX_TARGETS:
            _targets.add(target)
            return target
    return OTHER
