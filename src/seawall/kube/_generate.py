"""``seawall kube generate``: seawall's Kubernetes defaults, written out from a short spec.

Every number here has a reason:

* probes on seawall's own endpoints: ``/startupz`` holds the others off while the app
  warms up; ``/readyz`` takes a pod out of rotation within 10 s; ``/livez`` restarts it
  only after 60 s, so a slow dependency sheds traffic instead of restarting every pod;
* RollingUpdate with maxSurge 25 % and maxUnavailable 0: capacity never drops in a deploy;
* preStop sleeps for the drain: endpoints and load balancers stop routing to the pod
  while it still serves. The native ``sleep`` handler exists from 1.29; before that an
  ``exec`` of ``sleep`` (the image needs a ``sleep`` binary). The app's own drain delay
  is then 0 - the preStop already did it;
* terminationGracePeriodSeconds = drain + shutdown budget + 5 s margin, so SIGKILL never
  cuts in-flight work short;
* Pod Security "restricted": not root, no privilege escalation, no capabilities, the
  runtime's default seccomp filter, no service account token (a web service does not
  call the Kubernetes API), and a read-only image with a writable ``emptyDir`` on /tmp,
  where Python and most libraries put temporary files;
* with ``app``, the container runs ``seawall serve MODULE:ATTR`` bound to 0.0.0.0 on the
  declared port: the port the probes, the Service and the kubelet use. ``seawall serve``
  defaults to 127.0.0.1:8000, which nothing outside the container reaches;
* a Grafana dashboard (a ConfigMap for Grafana's dashboard sidecar) built from the
  metrics seawall exports, with ``slo:`` a PrometheusRule of burn-rate alerts, and
  with ``canary:`` the Argo Rollouts AnalysisTemplate that asks the canary judge;
* a PDB with maxUnavailable 1 (drains proceed, one pod at a time) that evicts unhealthy
  pods regardless (a crash-looping pod must not block a drain), an HPA with at least 2
  replicas, and spreading over zones and nodes.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from seawall.kube._analysis import analysis_template
from seawall.kube._dashboard import dashboard_configmap
from seawall.kube._graph import BUDGET_ANNOTATION, CALLS_ANNOTATION
from seawall.kube._schema import resolve_version
from seawall.kube._shutdown import BUDGET_ANNOTATION as SHUTDOWN_ANNOTATION
from seawall.kube._shutdown import DRAIN_ENV, SHUTDOWN_ENV
from seawall.kube._slo import prometheus_rule
from seawall.kube._spec import Spec

__all__ = ["GRACE_MARGIN", "generate", "to_yaml"]

GRACE_MARGIN = 5
_SLEEP_ACTION = (1, 29)  # lifecycle.preStop.sleep
_EVICTION_POLICY = (1, 27)  # PDB unhealthyPodEvictionPolicy (beta, on by default)
_MATCH_LABEL_KEYS = (1, 27)  # topologySpreadConstraints.matchLabelKeys (beta)


def _probe(path: str, period: int, failures: int, timeout: int = 1) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _metadata(spec: Spec, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": spec.name}
    if spec.namespace:
        meta["namespace"] = spec.namespace
    meta["labels"] = {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/managed-by": "seawall",
    }
    if annotations:
        meta["annotations"] = annotations
    return meta


def _deployment(spec: Spec, version: tuple[int, int]) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": spec.name}
    pre_stop: dict[str, Any] = (
        {"sleep": {"seconds": spec.drain_seconds}}
        if version >= _SLEEP_ACTION
        else {"exec": {"command": ["sleep", str(spec.drain_seconds)]}}
    )
    spread: list[dict[str, Any]] = []
    for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname"):
        constraint: dict[str, Any] = {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
        if version >= _MATCH_LABEL_KEYS:
            constraint["matchLabelKeys"] = ["pod-template-hash"]  # skew per revision
        spread.append(constraint)
    annotations: dict[str, str] = {}
    if spec.budget_seconds is not None:
        annotations[BUDGET_ANNOTATION] = f"{spec.budget_seconds:g}"
        if spec.raw_calls:
            annotations[CALLS_ANNOTATION] = json.dumps(
                spec.raw_calls, separators=(",", ":"), sort_keys=True
            )
    container: dict[str, Any] = {"name": spec.name, "image": spec.image}
    if spec.app is not None:
        container["command"] = ["seawall", "serve"]
        container["args"] = [spec.app, "--host", "0.0.0.0", "--port", str(spec.port)]
    container |= {
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": [
            {"name": DRAIN_ENV, "value": "0"},
            {"name": SHUTDOWN_ENV, "value": str(spec.shutdown_seconds)},
        ],
        "resources": spec.resources,
        "startupProbe": _probe(spec.health["startup"], 2, 30),
        "readinessProbe": _probe(spec.health["readiness"], 5, 2),
        "livenessProbe": _probe(spec.health["liveness"], 10, 6, timeout=2),
        "lifecycle": {"preStop": pre_stop},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_security: dict[str, Any] = {"runAsNonRoot": True}
    if spec.run_as_user is not None:
        pod_security |= {"runAsUser": spec.run_as_user, "runAsGroup": spec.run_as_user}
    pod_security["seccompProfile"] = {"type": "RuntimeDefault"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, annotations),
        # No spec.replicas: the HPA owns the count, and `kubectl apply` would reset it.
        "spec": {
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": _metadata(spec)["labels"],
                    "annotations": {SHUTDOWN_ANNOTATION: str(spec.shutdown_seconds)},
                },
                "spec": {
                    "terminationGracePeriodSeconds": spec.drain_seconds
                    + spec.shutdown_seconds
                    + GRACE_MARGIN,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security,
                    "topologySpreadConstraints": spread,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def generate(spec: Spec) -> list[dict[str, Any]]:
    """Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler and the
    dashboard ConfigMap for ``spec``; with ``slo:`` a PrometheusRule, with ``canary:``
    an AnalysisTemplate."""
    version = resolve_version(spec.kubernetes_version)
    selector = {"app.kubernetes.io/name": spec.name}
    pdb_spec: dict[str, Any] = {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    if version >= _EVICTION_POLICY:
        pdb_spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    objects = [
        _deployment(spec, version),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(spec),
            "spec": {
                "selector": dict(selector),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _metadata(spec),
            "spec": pdb_spec,
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(spec),
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": spec.name,
                },
                "minReplicas": spec.replicas,
                "maxReplicas": spec.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
        dashboard_configmap(_metadata(spec), spec.name, spec.job),
    ]
    if spec.slo is not None:
        objects.append(prometheus_rule(_metadata(spec), spec.name, spec.slo))
    if spec.canary is not None:
        objects.append(analysis_template(_metadata(spec), spec.name, spec.namespace, spec.canary))
    return objects


def to_yaml(objects: list[dict[str, Any]], header: str = "") -> str:
    """Multi-document YAML, keys in the order Kubernetes users read them."""
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump_all(
        objects, Dumper=dumper, sort_keys=False, default_flow_style=False, explicit_start=True
    )
    return (f"# {header}\n" if header else "") + body
