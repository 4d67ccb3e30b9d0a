"""The lint checks: each reads one object (and, through the :class:`Context`, its
neighbours) and yields findings. Check IDs and severities live in
:mod:`seawall.kube._rules`; disruption, placement and Pod Security checks live in their
own modules and run from :data:`CHECKS` too.

Checks never trust field types (see :mod:`seawall.kube._objects`): the schema check
reports a wrong type once, and every other check treats it as absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from seawall.kube._context import Check, Context
from seawall.kube._disruption import DISRUPTION_CHECKS
from seawall.kube._objects import (
    LONG_RUNNING,
    KubeObject,
    as_int,
    as_list,
    as_map,
    selects,
)
from seawall.kube._placement import PLACEMENT_CHECKS
from seawall.kube._rules import Finding
from seawall.kube._security import SECURITY_CHECKS
from seawall.kube._shutdown import ShutdownBudget, app_budget, prestop_seconds

__all__ = ["CHECKS", "Context"]

_PROBE_DEFAULTS = {"periodSeconds": 10, "failureThreshold": 3}
_HANDLERS = ("httpGet", "tcpSocket", "grpc", "exec")
_DEFAULT_GRACE = 30


# Probes -------------------------------------------------------------------------------
def _probes_present(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind == "Pod":
        yield from _bare_pod_readiness(obj, ctx)
    if obj.kind not in LONG_RUNNING:
        return
    for path, container in obj.serving_containers():
        name = container.get("name", "?")
        if not isinstance(container.get("readinessProbe"), dict):
            yield obj.finding("SW101", f"container {name!r} has no readinessProbe", path)
        if not isinstance(container.get("livenessProbe"), dict):
            yield obj.finding("SW102", f"container {name!r} has no livenessProbe", path)


def _bare_pod_readiness(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    """A bare Pod behind a Service takes traffic from the moment it runs unless a
    readinessProbe holds it back; a Pod nothing routes to needs none."""
    services = ctx.services_for(obj)
    if not services:
        return
    for path, container in obj.serving_containers():
        if not isinstance(container.get("readinessProbe"), dict):
            yield obj.finding(
                "SW101",
                f"container {container.get('name', '?')!r} has no readinessProbe, and "
                f"Service/{services[0].name} routes to this Pod",
                path,
            )


def _handler(probe: dict[str, Any], ports: dict[str, Any]) -> tuple[str, Any] | None:
    for kind in _HANDLERS:
        if kind in probe:
            action = dict(as_map(probe[kind]))
            port = action.get("port")
            action["port"] = ports.get(port, port) if isinstance(port, str) else port
            if kind == "httpGet":
                action.setdefault("path", "/")
                action["scheme"] = str(action.get("scheme", "HTTP")).upper()
            return kind, sorted(action.items(), key=lambda item: item[0])
    return None


def _window(probe: dict[str, Any]) -> int:
    """Seconds of steady failure before the probe gives up on the container."""
    period = as_int(probe.get("periodSeconds")) or _PROBE_DEFAULTS["periodSeconds"]
    failures = as_int(probe.get("failureThreshold")) or _PROBE_DEFAULTS["failureThreshold"]
    return period * failures


def _liveness_distinct(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    for path, container in obj.containers():
        liveness, readiness = container.get("livenessProbe"), container.get("readinessProbe")
        if not isinstance(liveness, dict) or not isinstance(readiness, dict):
            continue
        ports: dict[str, Any] = {
            p["name"]: p.get("containerPort")
            for p in map(as_map, as_list(container.get("ports")))
            if isinstance(p.get("name"), str)
        }
        handler = _handler(liveness, ports)
        if handler is None or handler != _handler(readiness, ports):
            continue
        live, ready = _window(liveness), _window(readiness)
        if live <= ready:
            yield obj.finding(
                "SW103",
                f"container {container.get('name', '?')!r}: livenessProbe checks the same "
                f"{handler[0]} as readinessProbe and gives up after {live}s, readiness after "
                f"{ready}s; use /livez or a higher liveness failureThreshold",
                (*path, "livenessProbe"),
            )


# Resources ----------------------------------------------------------------------------
def _resources(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    for path, container in obj.containers():
        name = container.get("name", "?")
        resources = as_map(container.get("resources"))
        requests = as_map(resources.get("requests"))
        limits = as_map(resources.get("limits"))
        # An unset request defaults to the limit: the API server copies it.
        missing = [r for r in ("cpu", "memory") if r not in requests and r not in limits]
        if missing:
            yield obj.finding(
                "SW104",
                f"container {name!r} requests no {' or '.join(missing)}",
                (*path, "resources"),
            )
        if "memory" not in limits:
            yield obj.finding(
                "SW105", f"container {name!r} has no memory limit", (*path, "resources")
            )


# Rollout ------------------------------------------------------------------------------
def _is_zero(value: Any) -> bool:
    return value == 0 or (isinstance(value, str) and re.fullmatch(r"0+(\.0*)?%", value) is not None)


def _strategy(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind == "StatefulSet":
        kind = as_map(obj.get("spec", "updateStrategy")).get("type", "RollingUpdate")
        if kind != "RollingUpdate":
            yield obj.finding(
                "SW110",
                f"updateStrategy {kind!r}: pods update only when deleted by hand",
                ("spec", "updateStrategy", "type"),
            )
        return
    if obj.kind != "Deployment":
        return
    strategy = as_map(obj.get("spec", "strategy"))
    kind = strategy.get("type", "RollingUpdate")
    if kind != "RollingUpdate":
        yield obj.finding(
            "SW110",
            f"strategy {kind!r} stops every pod before starting new ones",
            ("spec", "strategy", "type"),
        )
        return
    rolling = as_map(strategy.get("rollingUpdate"))
    if _is_zero(rolling.get("maxSurge", "25%")) and _is_zero(rolling.get("maxUnavailable", "25%")):
        yield obj.finding(
            "SW110",
            "maxSurge and maxUnavailable are both 0: the rollout cannot progress",
            ("spec", "strategy", "rollingUpdate"),
        )


# Shutdown -----------------------------------------------------------------------------
def _prestop(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind not in LONG_RUNNING:
        return
    for path, container in obj.serving_containers():
        if not isinstance(as_map(container.get("lifecycle")).get("preStop"), dict):
            yield obj.finding(
                "SW111", f"container {container.get('name', '?')!r} has no preStop hook", path
            )


def _grace(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.template_path is None:
        return
    raw_grace = obj.pod_spec.get("terminationGracePeriodSeconds")
    grace = _DEFAULT_GRACE if raw_grace is None else as_int(raw_grace)
    if grace is None:
        return
    grace_path = (*obj.pod_spec_path, "terminationGracePeriodSeconds")
    for path, container in obj.containers():
        name = container.get("name", "?")
        budget = app_budget(container, obj.pod_annotations)
        if isinstance(budget, str):
            yield obj.finding("SW112", f"container {name!r}: {budget}", path)
            continue
        pre_stop = prestop_seconds(container)
        need = pre_stop + (budget.seconds if isinstance(budget, ShutdownBudget) else 0.0)
        if grace < need:
            origin = f" + {budget.seconds:g}s ({budget.origin})" if budget else ""
            yield obj.finding(
                "SW112",
                f"container {name!r} needs {pre_stop:g}s preStop{origin} = {need:g}s, "
                f"but terminationGracePeriodSeconds is {grace}"
                + (" (the default)" if raw_grace is None else ""),
                grace_path if raw_grace is not None else path,
            )


# Images, selectors ------------------------------------------------------------------
def _image(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    for path, container in obj.containers(init=True):
        image = container.get("image")
        name = container.get("name", "?")
        if not isinstance(image, str) or not image:
            yield obj.finding("SW113", f"container {name!r} names no image", path)
            continue
        if "@" in image:
            continue  # pinned by digest
        last = image.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not tag or tag == "latest":
            yield obj.finding(
                "SW113",
                f"container {name!r} image {image!r} " + ("is :latest" if tag else "has no tag"),
                (*path, "image"),
            )


def _selector(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind not in LONG_RUNNING:
        return
    selector = obj.get("spec", "selector")
    if not isinstance(selector, dict):
        return  # required by the schema: SW100 says so
    if not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions")):
        yield obj.finding("SW115", "empty selector", ("spec", "selector"))
    elif not selects(selector, obj.pod_labels):
        yield obj.finding(
            "SW115",
            "spec.selector does not select spec.template.metadata.labels",
            ("spec", "selector"),
        )


CHECKS: tuple[Check, ...] = (
    _probes_present,
    _liveness_distinct,
    _resources,
    *DISRUPTION_CHECKS,
    _strategy,
    _prestop,
    _grace,
    _image,
    _selector,
    *PLACEMENT_CHECKS,
    *SECURITY_CHECKS,
)
