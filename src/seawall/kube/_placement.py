"""Spreading replicas over failure domains: topology spread constraints and pod
anti-affinity.

Both count *the pods their label selector picks, in the namespaces they name*. A selector
copied from another workload, or a ``namespaces`` list that leaves out the workload's own
namespace, counts other pods, and the scheduler is then free to put every replica on one
node: the manifest looks spread and is not. So each constraint and term must select the
workload's own pod labels and namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from seawall._formats._yaml import PathPart
from seawall.kube._objects import SERVED, KubeObject, as_list, as_map, selects
from seawall.kube._rules import Finding

__all__ = ["PLACEMENT_CHECKS"]

_ANTI_KINDS = (
    "requiredDuringSchedulingIgnoredDuringExecution",
    "preferredDuringSchedulingIgnoredDuringExecution",
)


def _anti_affinity_terms(
    obj: KubeObject,
) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
    base = (*obj.pod_spec_path, "affinity", "podAntiAffinity")
    anti = as_map(as_map(obj.pod_spec.get("affinity")).get("podAntiAffinity"))
    for kind in _ANTI_KINDS:
        for i, item in enumerate(as_list(anti.get(kind))):
            if kind.startswith("required"):
                yield (*base, kind, i), as_map(item)
            else:
                yield (
                    (*base, kind, i, "podAffinityTerm"),
                    as_map(as_map(item).get("podAffinityTerm")),
                )


def _term_problem(obj: KubeObject, term: dict[str, Any]) -> str | None:
    namespaces = as_list(term.get("namespaces"))
    # With neither field, a term means the pod's own namespace; a namespaceSelector
    # matches namespaces by labels the manifests do not show, so it is given the benefit.
    if namespaces and "namespaceSelector" not in term and obj.namespace not in namespaces:
        return f"its namespaces {namespaces} leave out the workload's namespace {obj.namespace!r}"
    if not selects(term.get("labelSelector"), obj.pod_labels):
        return "its labelSelector does not select the workload's own pod labels"
    return None


def _spread(obj: KubeObject, ctx: object) -> Iterator[Finding]:
    if obj.kind not in SERVED:
        return
    spec = obj.pod_spec
    constraints = as_list(spec.get("topologySpreadConstraints"))
    terms = list(_anti_affinity_terms(obj))
    if not constraints and not terms:
        yield obj.finding(
            "SW114", "neither topologySpreadConstraints nor podAntiAffinity", obj.pod_spec_path
        )
        return
    for i, item in enumerate(constraints):
        if not selects(as_map(item).get("labelSelector"), obj.pod_labels):
            yield obj.finding(
                "SW117",
                f"topologySpreadConstraints[{i}] labelSelector does not select the workload's "
                "own pod labels: it spreads other pods, not these",
                (*obj.pod_spec_path, "topologySpreadConstraints", i),
            )
    for path, term in terms:
        problem = _term_problem(obj, term)
        if problem is not None:
            yield obj.finding(
                "SW117",
                f"podAntiAffinity term keeps replicas apart from other pods only: {problem}",
                path,
            )


PLACEMENT_CHECKS = (_spread,)
