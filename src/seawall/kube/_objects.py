"""Kubernetes objects as the checks see them: typed views over untrusted YAML.

A manifest that fails the schema is still linted (the schema finding says what is
wrong, the other checks say what else is), so nothing here may assume a field has the
type the API promises: every accessor falls back to "absent" on the wrong type.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, PathPart, field_path
from seawall.kube._rules import RULES, Finding

__all__ = [
    "LONG_RUNNING",
    "POD_TEMPLATE",
    "SERVED",
    "KubeObject",
    "as_int",
    "as_list",
    "as_map",
    "objects_of",
    "scaled",
    "selects",
]

# Where each workload kind keeps its pod template (metadata + spec).
POD_TEMPLATE: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
# Workloads that serve traffic for as long as they run: probes, preStop hooks.
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
# Replicated served workloads: replicas, PDBs, HPAs, spreading, rollout strategy.
SERVED = frozenset({"Deployment", "StatefulSet"})


def as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scaled(value: Any, total: int, *, round_up: bool = True) -> int | None:
    """An IntOrString (``2`` or ``"50%"``) against ``total``, rounded as the API does."""
    number = as_int(value)
    if number is not None:
        return number
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            return None
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return None


def selects(selector: Any, labels: dict[str, Any]) -> bool:
    """Does a LabelSelector select ``labels``? ``None`` selects nothing, ``{}`` everything."""
    if not isinstance(selector, dict):
        return False
    for label, value in as_map(selector.get("matchLabels")).items():
        if labels.get(label) != value:
            return False
    for item in as_list(selector.get("matchExpressions")):
        expr = as_map(item)
        key: Any = expr.get("key")
        op = expr.get("operator")
        values = as_list(expr.get("values"))
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


@dataclass(frozen=True)
class KubeObject:
    """One object of a document (a ``kind: List`` document holds several)."""

    doc: Document
    prefix: tuple[PathPart, ...]
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        name = as_map(self.data.get("metadata")).get("name")
        return name if isinstance(name, str) else ""

    @property
    def namespace(self) -> str:
        namespace = as_map(self.data.get("metadata")).get("namespace")
        return namespace if isinstance(namespace, str) and namespace else "default"

    @property
    def annotations(self) -> dict[str, Any]:
        return as_map(as_map(self.data.get("metadata")).get("annotations"))

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def get(self, *path: PathPart) -> Any:
        value: Any = self.data
        for part in path:
            if isinstance(part, int):
                items = as_list(value)
                value = items[part] if 0 <= part < len(items) else None
            else:
                value = as_map(value).get(part)
        return value

    def line(self, path: tuple[PathPart, ...]) -> int:
        return self.doc.line_of((*self.prefix, *path))

    def finding(self, rule_id: str, message: str, path: tuple[PathPart, ...] = ()) -> Finding:
        return Finding(
            rule_id=rule_id,
            severity=RULES[rule_id].severity,
            message=message,
            source=self.doc.source,
            line=self.line(path),
            resource=self.ref,
            field=field_path(path),
        )

    # Pod template access -------------------------------------------------------------
    @property
    def template_path(self) -> tuple[str, ...] | None:
        return POD_TEMPLATE.get(self.kind)

    @property
    def pod_labels(self) -> dict[str, Any]:
        path = self.template_path
        return {} if path is None else as_map(self.get(*path, "metadata", "labels"))

    @property
    def pod_annotations(self) -> dict[str, Any]:
        path = self.template_path
        return {} if path is None else as_map(self.get(*path, "metadata", "annotations"))

    @property
    def pod_spec_path(self) -> tuple[str, ...]:
        return (*(self.template_path or ()), "spec")

    @property
    def pod_spec(self) -> dict[str, Any]:
        return as_map(self.get(*self.pod_spec_path))

    def containers(
        self, *, init: bool = False
    ) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
        """(path, container) for each container that is a mapping."""
        keys = ("containers", "initContainers") if init else ("containers",)
        for key in keys:
            for i, container in enumerate(as_list(self.pod_spec.get(key))):
                if isinstance(container, dict):
                    yield (*self.pod_spec_path, key, i), container

    def serving_containers(self) -> list[tuple[tuple[PathPart, ...], dict[str, Any]]]:
        """Containers that take traffic: those declaring a port, else the first one.

        A log shipper beside the app needs no readiness probe; a worker with no port is
        still judged on its main (first) container.
        """
        containers = list(self.containers())
        with_ports = [c for c in containers if as_list(c[1].get("ports"))]
        return with_ports or containers[:1]


def objects_of(doc: Document) -> list[KubeObject]:
    """The Kubernetes objects in a document; a non-object is unreadable input."""
    data = doc.data
    where = f"{doc.source}:{doc.start_line}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: document is a {type(data).__name__}, not a Kubernetes object")
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        missing = "kind" if not isinstance(kind, str) or not kind else "apiVersion"
        raise ConfigError(f"{where}: not a Kubernetes object: no {missing!r} string")
    if kind.endswith("List") and isinstance(data.get("items"), list):
        found: list[KubeObject] = []
        for i, item in enumerate(data["items"]):
            sub = Document(doc.source, doc.index, doc.line_of(("items", i)), item, doc.lines)
            found.extend(KubeObject(doc, ("items", i, *o.prefix), o.data) for o in objects_of(sub))
        return found
    return [KubeObject(doc, (), data)]
