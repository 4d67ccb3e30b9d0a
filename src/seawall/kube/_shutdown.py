"""How long a pod needs to stop: its preStop hook plus the app's own shutdown budget.

The kubelet counts ``terminationGracePeriodSeconds`` from the moment it runs preStop; the
app sees SIGTERM only after preStop returns, then drains and finishes in-flight work.
``seawall.http.serve`` reads its budget from ``SEAWALL_DRAIN_DELAY`` and
``SEAWALL_SHUTDOWN_TIMEOUT`` (or ``--drain-delay``/``--shutdown-timeout``, which win);
an operator can state the whole budget with the pod annotation
``seawall.dev/shutdown-budget-seconds``, which wins over both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from seawall.kube._objects import as_int, as_list, as_map

__all__ = [
    "BUDGET_ANNOTATION",
    "DEFAULT_DRAIN",
    "DEFAULT_SHUTDOWN",
    "ShutdownBudget",
    "app_budget",
    "prestop_seconds",
]

BUDGET_ANNOTATION = "seawall.dev/shutdown-budget-seconds"
DRAIN_ENV, SHUTDOWN_ENV = "SEAWALL_DRAIN_DELAY", "SEAWALL_SHUTDOWN_TIMEOUT"
DRAIN_ARG, SHUTDOWN_ARG = "--drain-delay", "--shutdown-timeout"
DEFAULT_DRAIN, DEFAULT_SHUTDOWN = 5.0, 25.0
_SLEEP = re.compile(r"(?:^|[\s;&|(])sleep\s+(\d+(?:\.\d+)?)s?\b")


@dataclass(frozen=True)
class ShutdownBudget:
    """Seconds the app needs after SIGTERM, and where that number came from."""

    seconds: float
    origin: str


def prestop_seconds(container: dict[str, Any]) -> float:
    """Seconds a preStop hook holds the container: native ``sleep`` or an exec'd sleep."""
    pre_stop = as_map(as_map(container.get("lifecycle")).get("preStop"))
    seconds = as_int(as_map(pre_stop.get("sleep")).get("seconds"))
    if seconds is not None:
        return float(seconds)
    command = [str(part) for part in as_list(as_map(pre_stop.get("exec")).get("command"))]
    match = _SLEEP.search(" ".join(command))
    return float(match[1]) if match else 0.0


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _from_args(container: dict[str, Any], flag: str) -> float | None:
    tokens = [str(t) for t in (*as_list(container.get("command")), *as_list(container.get("args")))]
    found: float | None = None
    for i, token in enumerate(tokens):
        if token == flag and i + 1 < len(tokens):
            found = _number(tokens[i + 1])
        elif token.startswith(flag + "="):
            found = _number(token.partition("=")[2])
    return found


def _from_env(container: dict[str, Any], name: str) -> float | None:
    for var in as_list(container.get("env")):
        var = as_map(var)
        if var.get("name") == name and "value" in var:
            return _number(var.get("value"))
    return None


def app_budget(
    container: dict[str, Any], pod_annotations: dict[str, Any]
) -> ShutdownBudget | str | None:
    """The app's shutdown budget; a string explains an unreadable annotation; ``None``
    when nothing says (the app is then assumed to stop at once)."""
    if BUDGET_ANNOTATION in pod_annotations:
        raw = pod_annotations[BUDGET_ANNOTATION]
        seconds = _number(raw)
        if seconds is None:
            return f"annotation {BUDGET_ANNOTATION}={raw!r} is not a number of seconds"
        return ShutdownBudget(seconds, f"annotation {BUDGET_ANNOTATION}")
    drain = _from_args(container, DRAIN_ARG)
    drain_origin = DRAIN_ARG if drain is not None else None
    if drain is None and (drain := _from_env(container, DRAIN_ENV)) is not None:
        drain_origin = DRAIN_ENV
    shutdown = _from_args(container, SHUTDOWN_ARG)
    shutdown_origin = SHUTDOWN_ARG if shutdown is not None else None
    if shutdown is None and (shutdown := _from_env(container, SHUTDOWN_ENV)) is not None:
        shutdown_origin = SHUTDOWN_ENV
    if drain_origin is None and shutdown_origin is None:
        return None
    total = (DEFAULT_DRAIN if drain is None else drain) + (
        DEFAULT_SHUTDOWN if shutdown is None else shutdown
    )
    origins = " + ".join(
        o or f"default {d:g}s"
        for o, d in ((drain_origin, DEFAULT_DRAIN), (shutdown_origin, DEFAULT_SHUTDOWN))
    )
    return ShutdownBudget(total, origins)
