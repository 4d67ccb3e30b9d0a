"""Everything linted together, indexed for the checks that look across objects: which
PDBs and Services select a workload's pods, which HPA scales it, and the target version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from seawall.kube._objects import SERVED, KubeObject, as_int, as_map, selects
from seawall.kube._rules import Finding
from seawall.kube._schema import DEFAULT_VERSION, resolve_version

__all__ = ["Check", "Context"]


@dataclass
class Context:
    """Everything linted together, indexed for the cross-object checks."""

    objects: list[KubeObject]
    version: tuple[int, int] = field(default_factory=lambda: resolve_version(DEFAULT_VERSION))
    pdbs: dict[str, list[KubeObject]] = field(default_factory=dict)
    hpas: dict[tuple[str, str, str], KubeObject] = field(default_factory=dict)
    services: dict[str, list[KubeObject]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj in self.objects:
            if obj.kind == "Service":
                self.services.setdefault(obj.namespace, []).append(obj)
            elif obj.kind == "PodDisruptionBudget":
                self.pdbs.setdefault(obj.namespace, []).append(obj)
            elif obj.kind == "HorizontalPodAutoscaler":
                target = as_map(obj.get("spec", "scaleTargetRef"))
                kind, name = target.get("kind"), target.get("name")
                if isinstance(kind, str) and isinstance(name, str):
                    self.hpas[(obj.namespace, kind, name)] = obj

    def hpa_for(self, workload: KubeObject) -> KubeObject | None:
        return self.hpas.get((workload.namespace, workload.kind, workload.name))

    def services_for(self, pod: KubeObject) -> list[KubeObject]:
        """Services in the pod's namespace whose selector picks its labels. A Service
        without a selector routes to endpoints managed by hand, so it selects nothing."""
        labels = pod.pod_labels
        found = []
        for service in self.services.get(pod.namespace, []):
            selector = as_map(service.get("spec", "selector"))
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                found.append(service)
        return found

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
