"""Strict, offline validation against the official Kubernetes OpenAPI schemas.

The schemas are the ones kubernetes-validate bundles (1.25 onward, "strict": unknown
fields are errors, which is what catches a misspelt ``readinesProbe``). Its own
``validate()`` rereads 1.4 MB of definitions per object and stops at the first error, so
we read its files directly, build one validator per (version, kind, apiVersion) and keep
it, and report every error with its field path.

Which APIs a version serves comes from the same files: every definition lists the
(group, version, kind) triples it is served as. An object of a Kubernetes API group whose
apiVersion and kind the target version does not serve (``extensions/v1beta1``, a removed
beta, a misspelt kind) is an error, because the API server rejects it at apply time. A
group is Kubernetes' own when the bundled definitions of any version name it, or when it
has no dot: custom resource groups must be domain names, so a dotless group can only be
built in. Objects of other groups are custom resources and stay unchecked.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema  # no stubs; a kubernetes-validate dependency
from referencing import Registry, Resource

from seawall._errors import ConfigError
from seawall._formats._yaml import PathPart

__all__ = [
    "DEFAULT_VERSION",
    "SchemaError",
    "api_problem",
    "resolve_version",
    "schema_errors",
    "served",
    "versions",
]

DEFAULT_VERSION = "1.33"
_SCHEMA_ROOT = "kubernetes-json-schema"
_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
_MESSAGE_LIMIT = 200
_MACHINERY = "io.k8s.apimachinery."

SchemaError = tuple[tuple[PathPart, ...], str]


@functools.cache
def versions() -> tuple[tuple[int, int], ...]:
    """The (major, minor) versions with bundled strict schemas, oldest first."""
    root = resources.files("kubernetes_validate").joinpath(_SCHEMA_ROOT)
    found = [m for m in (_DIR.match(p.name) for p in root.iterdir()) if m]
    return tuple(sorted((int(m[1]), int(m[2])) for m in found))


def resolve_version(text: str) -> tuple[int, int]:
    """``"1.33"``/``"v1.33.2"`` -> ``(1, 33)``; unsupported versions are a ConfigError."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    known = versions()
    if not match:
        raise ConfigError(f"Kubernetes version {text!r} is not MAJOR.MINOR (e.g. 1.33)")
    wanted = (int(match[1]), int(match[2]))
    if wanted not in known:
        span = f"{known[0][0]}.{known[0][1]}..{known[-1][0]}.{known[-1][1]}"
        raise ConfigError(f"Kubernetes version {text!r} is not supported; schemas: {span}")
    return wanted


def _read(version: tuple[int, int], name: str) -> Any:
    folder = f"v{version[0]}.{version[1]}.0-local-strict"
    path = resources.files("kubernetes_validate").joinpath(_SCHEMA_ROOT, folder, name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@functools.cache
def _definitions(version: tuple[int, int]) -> Any:
    return _read(version, "_definitions.json")


@functools.cache
def _registry(version: tuple[int, int]) -> Registry[Any]:
    registry: Registry[Any] = Resource.from_contents(_definitions(version)) @ Registry()
    return registry


Served = frozenset[tuple[str, str, str]]


@functools.cache
def served(version: tuple[int, int]) -> Served:
    """Every (group, version, kind) the Kubernetes version serves; core is group ``""``."""
    found: set[tuple[str, str, str]] = set()
    for name, definition in _definitions(version)["$defs"].items():
        if name.startswith(_MACHINERY):
            continue  # DeleteOptions, WatchEvent: listed under every group version ever
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            found.add((gvk["group"], gvk["version"], gvk["kind"]))
    return frozenset(found)


@functools.cache
def _builtin_groups() -> frozenset[str]:
    return frozenset(group for v in versions() for group, _, _ in served(v))


def _label(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _api(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_problem(kind: str, api_version: str, version: tuple[int, int]) -> str | None:
    """Why the target version does not serve ``kind`` as ``api_version``; ``None`` when it
    does, or when the group is not Kubernetes' own (a custom resource)."""
    group, _, api = api_version.rpartition("/")
    here = served(version)
    if (group, api, kind) in here:
        return None
    if "." in group and group not in _builtin_groups():
        return None
    target = _label(version)
    instead = sorted(_api(g, v) for g, v, k in here if k == kind)
    if instead:
        return (
            f"{api_version} {kind} is not served by Kubernetes {target}; use {' or '.join(instead)}"
        )
    elsewhere = sorted(v for v in versions() if (group, api, kind) in served(v))
    if elsewhere:
        span = "added in" if elsewhere[0] > version else "last served in"
        when = elsewhere[0] if elsewhere[0] > version else elsewhere[-1]
        return f"{api_version} {kind} is not served by Kubernetes {target} ({span} {_label(when)})"
    gone = sorted(v for v in versions() if any(k == kind for _, _, k in served(v)))
    if gone:
        return f"{kind} is not served by Kubernetes {target} (last served in {_label(gone[-1])})"
    kinds = sorted({k for g, _, k in here if g == group})
    close = difflib.get_close_matches(kind, kinds, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    if not kinds:
        return f"Kubernetes {target} serves no API group {group!r} ({api_version} {kind})"
    return f"Kubernetes {target} serves no kind {kind!r} in {api_version}{hint}"


@functools.cache
def _validator(version: tuple[int, int], kind: str, api_version: str) -> Any:
    # Same file naming as kubernetes-validate: apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1
    # -> rbac-v1, v1 -> v1.
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _read(version, f"{kind.lower()}-{group}.json")
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in instance if key not in allowed]


def schema_errors(data: dict[str, Any], version: tuple[int, int]) -> list[SchemaError] | None:
    """Every strict-schema error as (path, message); ``None`` when no schema is bundled
    for the kind (a custom resource, say), so callers can tell "valid" from "unchecked"."""
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return None
    problem = api_problem(kind, api_version, version)
    group, _, api = api_version.rpartition("/")
    if problem is not None:
        # Point at the field to change: the kind when the apiVersion itself is served.
        known = any((g, v) == (group, api) for g, v, _ in served(version))
        return [(("kind",) if known else ("apiVersion",), problem)]
    if (group, api, kind) not in served(version):
        return None  # a custom resource: no schema is bundled, and kind names no file
    validator = _validator(version, kind, api_version)
    if validator is None:
        return None
    errors: list[SchemaError] = []
    for error in validator.iter_errors(data):
        path: tuple[PathPart, ...] = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = _unexpected(error)
            errors.extend(((*path, key), f"unknown field {key!r}") for key in extra)
            if extra:
                continue
        errors.append((path, _short(error.message)))
    errors.sort(key=lambda e: [str(p) for p in e[0]])
    return errors
