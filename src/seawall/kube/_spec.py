"""The short spec ``seawall kube generate`` reads, validated before anything is written.

::

    name: checkout                      # required; a DNS label
    image: ghcr.io/shop/checkout:1.4.2  # required; a tag other than latest, or a digest
    namespace: shop                     # optional
    port: 8080
    app: shop.main:app                  # optional: run `seawall serve shop.main:app` on port
    run_as_user: 10001                  # optional: the non-root uid, when the image has none
    replicas: 3                         # the HPA's minimum; at least 2
    max_replicas: 9                     # default 3 x replicas
    resources:                          # default: 100m / 128Mi, memory limit = request
      requests: {cpu: 250m, memory: 256Mi}
      limits: {memory: 256Mi}
    health: {startup: /startupz, readiness: /readyz, liveness: /livez}
    drain_seconds: 5                    # preStop sleep: endpoints stop routing meanwhile
    shutdown_seconds: 25                # the app's budget to finish in-flight work
    kubernetes_version: "1.33"
    budget_seconds: 5                   # optional: the request budget (budget graph)
    calls: []                           # optional: calls, as in a budget graph file
    slo:                                # optional: SLO burn-rate rules (PrometheusRule)
      availability: 99.9                #   percent of requests answered without a 5xx
      latency: {objective: 99, threshold: 0.25}  # percent answered within 0.25 s
    canary:                             # optional: Argo Rollouts AnalysisTemplate
      judge: http://seawall-canary.monitoring:8080  # `seawall canary serve`
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, load_text
from seawall.kube._analysis import CanarySpec, parse_canary
from seawall.kube._graph import Call, Reader, parse_calls
from seawall.kube._schema import DEFAULT_VERSION, resolve_version
from seawall.kube._slo import SLOSpec, parse_slo

__all__ = ["Spec", "parse_spec", "spec_from_text"]

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PATH = re.compile(r"^/[!-~]*$")
_KEYS = {
    "name", "image", "namespace", "port", "replicas", "max_replicas", "resources", "health",
    "drain_seconds", "shutdown_seconds", "kubernetes_version", "budget_seconds", "calls",
    "app", "run_as_user", "slo", "canary",
}  # fmt: skip
_APP = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}
_DEFAULT_HEALTH = {"startup": "/startupz", "readiness": "/readyz", "liveness": "/livez"}


@dataclass(frozen=True)
class Spec:
    name: str
    image: str
    namespace: str | None = None
    port: int = 8080
    app: str | None = None
    run_as_user: int | None = None
    replicas: int = 3
    max_replicas: int = 9
    resources: dict[str, dict[str, str]] = field(default_factory=lambda: dict(_DEFAULT_RESOURCES))
    health: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_HEALTH))
    drain_seconds: int = 5
    shutdown_seconds: int = 25
    kubernetes_version: str = DEFAULT_VERSION
    budget_seconds: float | None = None
    calls: tuple[Call, ...] = ()
    raw_calls: list[dict[str, Any]] = field(default_factory=list)
    slo: SLOSpec | None = None
    canary: CanarySpec | None = None

    @property
    def job(self) -> str:
        """The Prometheus job label the service's pods are scraped as."""
        return self.slo.job if self.slo is not None else self.name


def _int(reader: Reader, data: dict[str, Any], key: str, default: int, minimum: int) -> int:
    return reader.integer(data.get(key, default), (key,), minimum)


def _port(reader: Reader, data: dict[str, Any]) -> int:
    port = _int(reader, data, "port", 8080, 1)
    if port > 65535:
        raise reader.fail(("port",), f"{port} is not a TCP port")
    return port


def _resources(reader: Reader, raw: Any) -> dict[str, dict[str, str]]:
    if raw is None:
        return {k: dict(v) for k, v in _DEFAULT_RESOURCES.items()}
    if not isinstance(raw, dict) or set(raw) - {"requests", "limits"}:
        raise reader.fail(("resources",), "must be a mapping of 'requests' and 'limits'")
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        values = raw.get(part, {})
        if not isinstance(values, dict):
            raise reader.fail(("resources", part), "must be a mapping")
        out[part] = {str(k): str(v) for k, v in values.items()}
    for needed in ("cpu", "memory"):
        if needed not in out["requests"]:
            raise reader.fail(
                ("resources", "requests"), f"needs {needed!r} (the HPA scales on cpu)"
            )
    out["limits"].setdefault("memory", out["requests"]["memory"])
    return out


def _health(reader: Reader, raw: Any) -> dict[str, str]:
    health = dict(_DEFAULT_HEALTH)
    if raw is None:
        return health
    if not isinstance(raw, dict) or set(raw) - set(health):
        raise reader.fail(("health",), f"must map {sorted(health)} to paths")
    for key, value in raw.items():
        if not isinstance(value, str) or not _PATH.match(value):
            raise reader.fail(("health", key), f"{value!r} is not an absolute URL path")
        health[key] = value
    if health["liveness"] == health["readiness"]:
        raise reader.fail(("health", "liveness"), "liveness needs its own path, not readiness's")
    return health


def parse_spec(doc: Document) -> Spec:
    """A :class:`Spec` from a YAML document; errors name the file, line and field."""
    reader = Reader(doc, label="spec")
    data = doc.data
    if not isinstance(data, dict):
        raise reader.fail((), "a spec must be a mapping")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise reader.fail((unknown[0],), f"unknown key; expected one of {sorted(_KEYS)}")
    strings: dict[str, str] = {}
    for key in ("name", "image", "namespace", "kubernetes_version", "app"):
        value = data.get(key)
        if value is None and key in ("name", "image"):
            raise reader.fail((key,), "is required")
        if isinstance(value, float) and key == "kubernetes_version":
            raise reader.fail((key,), f"{value!r} must be quoted: YAML reads 1.30 as 1.3")
        if value is not None and not isinstance(value, str):
            raise reader.fail((key,), f"{value!r} must be a string")
        if value is not None:
            strings[key] = str(value)
    name = strings["name"]
    if not _DNS_LABEL.match(name):
        raise reader.fail(("name",), f"{name!r} is not a DNS label (a-z, 0-9, '-', <= 63)")
    image = strings["image"]
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if "@" not in image and tag in ("", "latest"):
        raise reader.fail(("image",), f"{image!r} needs a version tag or a digest, not latest")
    app = strings.get("app")
    if app is not None and not _APP.match(app):
        raise reader.fail(("app",), f"{app!r} is not MODULE:ATTRIBUTE (e.g. shop.main:app)")
    run_as_user = data.get("run_as_user")
    if run_as_user is not None:
        run_as_user = reader.integer(run_as_user, ("run_as_user",), 1)
        if run_as_user > 2**31 - 1:
            raise reader.fail(("run_as_user",), f"{run_as_user} is not a Linux uid")
    version = strings.get("kubernetes_version", DEFAULT_VERSION)
    try:
        resolve_version(version)
    except ConfigError as exc:
        raise reader.fail(("kubernetes_version",), str(exc)) from None
    replicas = _int(reader, data, "replicas", 3, 2)
    budget = data.get("budget_seconds")
    raw_calls = data.get("calls")
    calls = parse_calls(reader, raw_calls, name, ("calls",))
    return Spec(
        name=name,
        image=image,
        namespace=strings.get("namespace"),
        port=_port(reader, data),
        app=app,
        run_as_user=run_as_user,
        replicas=replicas,
        max_replicas=_int(reader, data, "max_replicas", 3 * replicas, replicas),
        resources=_resources(reader, data.get("resources")),
        health=_health(reader, data.get("health")),
        drain_seconds=_int(reader, data, "drain_seconds", 5, 1),
        shutdown_seconds=_int(reader, data, "shutdown_seconds", 25, 0),
        kubernetes_version=version,
        budget_seconds=None if budget is None else reader.seconds(budget, ("budget_seconds",)),
        calls=calls,
        raw_calls=list(raw_calls or []),
        slo=parse_slo(reader, data.get("slo"), name),
        canary=parse_canary(reader, data.get("canary")),
    )


def spec_from_text(text: str, source: str = "<spec>") -> Spec:
    documents = load_text(text, source)
    if len(documents) != 1:
        raise ConfigError(f"{source}: a spec is exactly one YAML document, got {len(documents)}")
    return parse_spec(documents[0])
