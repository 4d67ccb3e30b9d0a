"""Availability through voluntary disruptions: replica counts, HPAs and PDBs.

A drain, an upgrade or a deploy takes pods away on purpose. The replica count and the
HPA's minimum say how many remain; the PDB says how many may go at once. Each check
here guards one way those settings, alone or together, turn routine maintenance into an
outage or a drain that never finishes.
"""

from __future__ import annotations

from collections.abc import Iterator

from seawall.kube._context import Check, Context
from seawall.kube._objects import SERVED, KubeObject, as_int, as_map, scaled
from seawall.kube._rules import Finding

__all__ = ["DISRUPTION_CHECKS"]

_EVICTION_POLICY = (1, 27)  # PDB unhealthyPodEvictionPolicy: beta and on by default


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


def _replicas_with_hpa(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    replicas = as_int(obj.get("spec", "replicas"))
    if obj.kind not in SERVED or replicas is None:
        return
    hpa = ctx.hpa_for(obj)
    if hpa is not None:
        yield obj.finding(
            "SW116",
            f"spec.replicas {replicas} is set, but "
            f"HorizontalPodAutoscaler/{hpa.name} owns the count: every apply resets it; "
            "remove spec.replicas",
            ("spec", "replicas"),
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


def _pdb_unhealthy_policy(obj: KubeObject, ctx: Context) -> Iterator[Finding]:
    if obj.kind != "PodDisruptionBudget" or ctx.version < _EVICTION_POLICY:
        return
    if "unhealthyPodEvictionPolicy" not in as_map(obj.get("spec")):
        yield obj.finding(
            "SW118",
            "no unhealthyPodEvictionPolicy: pods that never become ready hold the budget and "
            "block node drains; set AlwaysAllow",
            ("spec",),
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


DISRUPTION_CHECKS: tuple[Check, ...] = (
    _replicas,
    _replicas_with_hpa,
    _pdb_present,
    _pdb_blocks,
    _pdb_unhealthy_policy,
    _hpa_minimum,
)
