"""Strict, offline validation against the official Kubernetes OpenAPI schemas.

The schemas are the ones kubernetes-validate bundles (1.25 onward, "strict": unknown
fields are errors, which is what catches a misspelt ``readinesProbe``). Its own
``validate()`` rereads 1.4 MB of definitions per object and stops at the first error, so
we read its files directly, build one validator per (version, kind, apiVersion) and keep
it, and report every error with its field path.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema  # no stubs; a kubernetes-validate dependency
from referencing import Registry, Resource

from seawall._errors import ConfigError
from seawall._formats._yaml import PathPart

__all__ = ["DEFAULT_VERSION", "SchemaError", "resolve_version", "schema_errors", "versions"]

DEFAULT_VERSION = "1.33"
_SCHEMA_ROOT = "kubernetes-json-schema"
_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
_MESSAGE_LIMIT = 200

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
def _registry(version: tuple[int, int]) -> Registry[Any]:
    definitions = _read(version, "_definitions.json")
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return registry


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
