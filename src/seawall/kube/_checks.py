"""The lint checks: each reads one object (and, for PDBs and HPAs, its neighbours) and
yields findings. Check IDs and severities live in :mod:`seawall.kube._rules`.

Checks never trust field types (see :mod:`seawall.kube._objects`): the schema check
reports a wrong type once, and every other check treats it as absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from seawall.kube._objects import (
    LONG_RUNNING,
    SERVED,
    KubeObject,
    as_int,
    as_list,
    as_map,
    scaled,
    selects,
)
from seawall.kube._rules import Finding
from seawall.kube._shutdown import ShutdownBudget, app_budget, prestop_seconds

__all__ = ["CHECKS", "Context"]

_PROBE_DEFAULTS = {"periodSeconds": 10, "failureThreshold": 3}
_HANDLERS = ("httpGet", "tcpSocket", "grpc", "exec")
_DEFAULT_GRACE = 30


@dataclass
class Context:
    """Everything linted together, indexed for the cross-object checks."""

    objects: list[KubeObject]
    pdbs: dict[str, list[KubeObject]] = field(default_factory=dict)
    hpas: dict[tuple[str, str, str], KubeObject] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            if obj.kind == "PodDisruptionBudget":
                self.pdbs.setdefault(obj.namespace, []).append(obj)
            elif obj.kind == "HorizontalPodAutoscaler":
                target = as_map(obj.get("spec", "scaleTargetRef"))
                kind, name = target.get("kind"), target.get("name")
                if isinstance(kind, str) and isinstance(name, str):
                    self.hpas[(obj.namespace, kind, name)] = obj

    def hpa_for(self, workload: KubeObject) -> KubeObject | None:
        return self.hpas.get((workload.namespace, workload.kind, workload.name))

    def pdbs_for(self, workload: KubeObject) -> list[KubeObject]:
        labels = workload.pod_labels
        return [
            p
            for p in self.pdbs.get(workload.namespace, [])
            if selects(p.get("spec", "selector"), labels)
        ]

    def workloads_for(self, pdb: KubeObject) -> list[KubeObject]:
        selector = pdb.get("spec", "selector")
        return [
            o
            for o in self.objects
            if o.kind in SERVED and o.namespace == pdb.namespace and selects(selector, o.pod_labels)
        ]

    def min_replicas(self, workload: KubeObject) -> int:
        """Fewest replicas the workload runs: HPA minReplicas if scaled, else replicas."""
        hpa = self.hpa_for(workload)
        if hpa is not None:
            value = as_int(hpa.get("spec", "minReplicas"))
            return 1 if value is None else value
        value = as_int(workload.get("spec", "replicas"))
        return 1 if value is None else value


Check = Callable[[KubeObject, Context], Iterator[Finding]]


# Probes -------------------------------------------------------------------------------
def _probes_present(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind not in LONG_RUNNING:
        return
    for path, container in obj.serving_containers():
        name = container.get("name", "?")
        if not isinstance(container.get("readinessProbe"), dict):
            yield obj.finding("SW101", f"container {name!r} has no readinessProbe", path)
        if not isinstance(container.get("livenessProbe"), dict):
            yield obj.finding("SW102", f"container {name!r} has no livenessProbe", path)


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
        missing = [r for r in ("cpu", "memory") if r not in requests]
        if missing:
            yield obj.finding(
                "SW104",
                f"container {name!r} requests no {' or '.join(missing)}",
                (*path, "resources"),
            )
        if "memory" not in as_map(resources.get("limits")):
            yield obj.finding(
                "SW105", f"container {name!r} has no memory limit", (*path, "resources")
            )


# Availability -------------------------------------------------------------------------
def _replicas(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind not in SERVED or ctx.hpa_for(obj) is not None:
        return  # an HPA owns the replica count; SW109 judges its minimum
    replicas = obj.get("spec", "replicas")
    count = 1 if replicas is None else as_int(replicas)
    if count is not None and count < 2:
        yield obj.finding(
            "SW106",
            f"{count} replica{'s' if count != 1 else ''}"
            + (" (the default)" if replicas is None else ""),
            ("spec", "replicas") if replicas is not None else ("spec",),
        )


def _pdb_present(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind in SERVED and not ctx.pdbs_for(obj):
        yield obj.finding(
            "SW107", f"no PodDisruptionBudget in namespace {obj.namespace!r} selects its pods"
        )


def _pdb_allowance(pdb: KubeObject, replicas: int) -> int | None:
    """Voluntary evictions the PDB allows at full health with ``replicas`` pods."""
    spec = as_map(pdb.get("spec"))
    if "maxUnavailable" in spec:
        return scaled(spec["maxUnavailable"], replicas)
    if "minAvailable" in spec:
        required = scaled(spec["minAvailable"], replicas)
        return None if required is None else replicas - required
    return None


def _pdb_blocks(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind != "PodDisruptionBudget":
        return
    spec = as_map(obj.get("spec"))
    key = "maxUnavailable" if "maxUnavailable" in spec else "minAvailable"
    value = spec.get(key)
    if key == "maxUnavailable" and _pdb_allowance(obj, 100) == 0:
        yield obj.finding("SW108", f"maxUnavailable {value!r} allows no eviction", ("spec", key))
        return
    if key == "minAvailable" and isinstance(value, str) and _pdb_allowance(obj, 100) == 0:
        yield obj.finding("SW108", f"minAvailable {value!r} allows no eviction", ("spec", key))
        return
    for workload in ctx.workloads_for(obj):
        replicas = ctx.min_replicas(workload)
        allowance = _pdb_allowance(obj, replicas)
        if allowance is not None and allowance <= 0:
            scaler = "HPA minReplicas" if ctx.hpa_for(workload) else "replicas"
            yield obj.finding(
                "SW108",
                f"{key} {value!r} allows no eviction of {workload.kind}/{workload.name} "
                f"at {scaler} {replicas}",
                ("spec", key),
            )


def _hpa_minimum(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind != "HorizontalPodAutoscaler":
        return
    raw = obj.get("spec", "minReplicas")
    minimum = 1 if raw is None else as_int(raw)
    path = ("spec", "minReplicas") if raw is not None else ("spec",)
    if minimum is None:
        return
    if minimum < 2:
        yield obj.finding("SW109", f"minReplicas {minimum} is below 2", path)
        return
    target = as_map(obj.get("spec", "scaleTargetRef"))
    for workload in ctx.objects:
        if (workload.kind, workload.name, workload.namespace) != (
            target.get("kind"),
            target.get("name"),
            obj.namespace,
        ):
            continue
        for pdb in ctx.pdbs_for(workload):
            required = scaled(pdb.get("spec", "minAvailable"), minimum)
            if required is not None and minimum <= required:
                yield obj.finding(
                    "SW109",
                    f"minReplicas {minimum} is not above minAvailable {required} of "
                    f"PodDisruptionBudget/{pdb.name}: at the minimum no pod can be evicted",
                    path,
                )


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


# Images, placement, selectors ---------------------------------------------------------
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


def _spread(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind not in SERVED:
        return
    spec = obj.pod_spec
    anti = as_map(as_map(spec.get("affinity")).get("podAntiAffinity"))
    has_anti = any(
        as_list(anti.get(k))
        for k in (
            "requiredDuringSchedulingIgnoredDuringExecution",
            "preferredDuringSchedulingIgnoredDuringExecution",
        )
    )
    if not as_list(spec.get("topologySpreadConstraints")) and not has_anti:
        yield obj.finding(
            "SW114", "neither topologySpreadConstraints nor podAntiAffinity", obj.pod_spec_path
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
    _replicas,
    _pdb_present,
    _pdb_blocks,
    _hpa_minimum,
    _strategy,
    _prestop,
    _grace,
    _image,
    _spread,
    _selector,
)
