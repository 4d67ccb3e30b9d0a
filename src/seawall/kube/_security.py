"""The Pod Security "restricted" settings, checked on every pod template.

A namespace that enforces the restricted profile rejects a pod without them, so a
manifest that lacks one fails at apply time in such a namespace, and elsewhere runs with
more privilege than a web service needs: root, a writable image, the kernel's default
system calls, every capability, and an API token the app never uses.

They are warnings, not errors: a manifest without them serves traffic correctly; it is
harder to break into and cheaper to contain when broken into. Init containers are held to
the same rules, as Pod Security holds them. Container settings override the pod's for
``runAsNonRoot``, ``runAsUser`` and ``seccompProfile``, as the kubelet applies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from seawall._formats._yaml import PathPart
from seawall.kube._objects import KubeObject, as_list, as_map
from seawall.kube._rules import Finding

__all__ = ["SECURITY_CHECKS"]

_SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")


def _context(container: dict[str, Any]) -> dict[str, Any]:
    return as_map(container.get("securityContext"))


def _where(path: tuple[PathPart, ...], container: dict[str, Any]) -> tuple[PathPart, ...]:
    return (*path, "securityContext") if "securityContext" in container else path


def _run_as_root(obj: KubeObject) -> Iterator[Finding]:
    pod = as_map(obj.pod_spec.get("securityContext"))
    for path, container in obj.containers(init=True):
        own = _context(container)
        non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
        user = own.get("runAsUser", pod.get("runAsUser"))
        name = container.get("name", "?")
        if user == 0:
            yield obj.finding(
                "SW119", f"container {name!r} runs as root (runAsUser 0)", _where(path, container)
            )
        elif non_root is not True:
            yield obj.finding(
                "SW119",
                f"container {name!r} may run as root: set securityContext.runAsNonRoot: true",
                _where(path, container),
            )


def _privilege_escalation(obj: KubeObject) -> Iterator[Finding]:
    for path, container in obj.containers(init=True):
        if _context(container).get("allowPrivilegeEscalation") is not False:
            yield obj.finding(
                "SW120",
                f"container {container.get('name', '?')!r} does not set "
                "securityContext.allowPrivilegeEscalation: false",
                _where(path, container),
            )


def _capabilities(obj: KubeObject) -> Iterator[Finding]:
    for path, container in obj.containers(init=True):
        dropped = as_list(as_map(_context(container).get("capabilities")).get("drop"))
        if "ALL" not in dropped:
            yield obj.finding(
                "SW121",
                f"container {container.get('name', '?')!r} does not drop all capabilities: "
                "set securityContext.capabilities.drop: [ALL]",
                _where(path, container),
            )


def _seccomp(obj: KubeObject) -> Iterator[Finding]:
    pod = as_map(as_map(obj.pod_spec.get("securityContext")).get("seccompProfile"))
    for path, container in obj.containers(init=True):
        own = as_map(_context(container).get("seccompProfile"))
        kind = (own or pod).get("type")
        if kind not in _SECCOMP_CONFINED:
            shown = kind if isinstance(kind, str) and kind else "unset"
            yield obj.finding(
                "SW122",
                f"container {container.get('name', '?')!r} has seccompProfile {shown}: set "
                "the pod's securityContext.seccompProfile.type: RuntimeDefault",
                _where(path, container),
            )


def _service_account_token(obj: KubeObject) -> Iterator[Finding]:
    if obj.pod_spec.get("automountServiceAccountToken") is not False:
        yield obj.finding(
            "SW123",
            "the pod mounts a service account token: set automountServiceAccountToken: false "
            "unless the app calls the Kubernetes API",
            obj.pod_spec_path,
        )


def _root_filesystem(obj: KubeObject) -> Iterator[Finding]:
    for path, container in obj.containers(init=True):
        if _context(container).get("readOnlyRootFilesystem") is not True:
            yield obj.finding(
                "SW124",
                f"container {container.get('name', '?')!r} can write to its image: set "
                "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where "
                "it writes (/tmp)",
                _where(path, container),
            )


def _restricted(obj: KubeObject, ctx: object) -> Iterator[Finding]:
    if obj.template_path is None or not as_list(obj.pod_spec.get("containers")):
        return
    yield from _run_as_root(obj)
    yield from _privilege_escalation(obj)
    yield from _capabilities(obj)
    yield from _seccomp(obj)
    yield from _service_account_token(obj)
    yield from _root_filesystem(obj)


SECURITY_CHECKS = (_restricted,)
