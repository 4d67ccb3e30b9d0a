"""What a proxy and a toxic are, as values: parsed and validated from Toxiproxy's JSON.

The JSON shapes are Toxiproxy's, so its clients and config files work unchanged::

    {"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379",
     "enabled": true, "toxics": [...]}
    {"name": "latency_downstream", "type": "latency", "stream": "downstream",
     "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 10}}

Every problem is a :class:`FieldError` naming the field (``toxics[0].attributes.latency``)
and saying why; the control API answers it with 400, the CLI with exit 2. Unknown fields
and attributes are ignored with a logged warning, as Toxiproxy ignores them (its clients
send fields of their own); with ``strict=True`` they are errors instead, because a typo
in a fault (``latncy``) otherwise quietly turns the fault off.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from seawall._errors import ConfigError, SeawallError

__all__ = [
    "DEFAULT_LISTEN",
    "STREAMS",
    "TOXIC_ATTRIBUTES",
    "AlreadyExists",
    "FieldError",
    "ListenError",
    "MissingField",
    "NotFound",
    "ProxyConfig",
    "Stream",
    "Toxic",
    "load_config",
    "parse_address",
    "parse_json",
    "proxies_from_json",
]

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")
DEFAULT_LISTEN = "127.0.0.1:0"

logger = logging.getLogger("seawall.chaos")

# Toxiproxy's toxic types and their integer attributes (all default to 0).
TOXIC_ATTRIBUTES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "latency": ("latency", "jitter"),  # ms
        "bandwidth": ("rate",),  # KB/s (1 KB = 1000 bytes); 0 = unlimited
        "slow_close": ("delay",),  # ms
        "timeout": ("timeout",),  # ms; 0 = never close
        "reset_peer": ("timeout",),  # ms
        "slicer": ("average_size", "size_variation", "delay"),  # bytes, bytes, µs
        "limit_data": ("bytes",),
        "noop": (),  # lets everything through: a placeholder, or a test of the API itself
    }
)
_INT64_MAX = 2**63 - 1
_NAME_MAX = 256


class FieldError(ConfigError):
    """``field`` of a proxy, toxic or file is invalid, for ``reason``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    def within(self, prefix: str) -> FieldError:
        """The same error, located inside ``prefix`` (a list index or an object key)."""
        if not self.field or self.field.startswith("["):
            return FieldError(f"{prefix}{self.field}", self.reason)
        return FieldError(f"{prefix}.{self.field}" if prefix else self.field, self.reason)


class MissingField(FieldError):
    """A required field is absent or empty, worded as Toxiproxy words it.

    Toxiproxy's clients and tests match the text (``missing required field: name``, and
    in a populate body ``missing required field: name at proxy 2``), so the control API
    answers exactly that; ``field`` still locates it for the CLI's messages.
    """

    def __init__(self, field: str, label: str | None = None) -> None:
        super().__init__(field, "missing required field")
        self.label = label or field

    def __str__(self) -> str:
        return f"missing required field: {self.label}"

    def within(self, prefix: str) -> FieldError:
        return MissingField(FieldError.within(self, prefix).field, self.label)


class ListenError(FieldError):
    """A proxy's listen address cannot be bound (in use, not local, no permission).

    ``wire`` is the text Toxiproxy answers with its 500 (Go's ``listen tcp
    127.0.0.1:3310: bind: address already in use``), which clients show and match.
    """

    def __init__(self, listen: str, address: tuple[str, int], exc: BaseException) -> None:
        # socket.create_server appends the address to strerror: the errno says it plainly.
        errno = getattr(exc, "errno", None)
        reason = os.strerror(errno) if isinstance(errno, int) and errno > 0 else None
        reason = reason or getattr(exc, "strerror", None) or str(exc)
        super().__init__("listen", f"cannot listen on {listen}: {reason}")
        host, port = address
        shown = f"[{host}]" if ":" in host else host
        self.wire = f"listen tcp {shown}:{port}: bind: {reason[:1].lower()}{reason[1:]}"

    def within(self, prefix: str) -> FieldError:
        located = FieldError.within(self, prefix)
        error = ListenError.__new__(ListenError)
        FieldError.__init__(error, located.field, self.reason)
        error.wire = self.wire
        return error


class NotFound(SeawallError, LookupError):
    """No proxy or toxic of that name (the control API's 404).

    ``kind`` is ``"proxy"`` or ``"toxic"``; the control API answers Toxiproxy's text,
    ``proxy not found``, which clients match (toxiproxy-python maps it to its own
    ``NotFound``).
    """

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} not found: {name!r}")
        self.kind = kind
        self.name = name

    @property
    def wire(self) -> str:
        return f"{self.kind} not found"


class AlreadyExists(SeawallError):
    """A proxy or toxic of that name exists already (the control API's 409).

    The control API answers Toxiproxy's text, ``proxy already exists`` or ``toxic
    already exists``, which clients match (toxiproxy-python raises ``ProxyExists``).
    """

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} already exists: {name!r}")
        self.kind = kind
        self.name = name

    @property
    def wire(self) -> str:
        return f"{self.kind} already exists"


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError(where, "must be a non-empty string")
    if len(value) > _NAME_MAX:
        raise FieldError(where, f"must be at most {_NAME_MAX} characters")
    if "/" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FieldError(where, "must not contain '/' or control characters")
    return value


def _integer(value: object, where: str) -> int:
    # bool is an int in Python but not in JSON: reject it, as Toxiproxy (Go) does.
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(where, f"must be an integer, not {_kind(value)}")
    if not 0 <= value <= _INT64_MAX:
        raise FieldError(where, "must be between 0 and 2^63-1")
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _object(
    value: object, where: str, allowed: tuple[str, ...], *, strict: bool = True
) -> Mapping[str, Any]:
    """``value`` as a JSON object; an unknown key is an error, or (not strict) dropped."""
    if not isinstance(value, Mapping):
        raise FieldError(where, f"must be a JSON object, not {_kind(value)}")
    unknown = [key for key in value if key not in allowed]
    if not unknown:
        return value
    expected = f"expected one of {', '.join(allowed)}" if allowed else "expected none"
    if strict:
        key = unknown[0]
        raise FieldError(f"{where}.{key}" if where else str(key), f"unknown field ({expected})")
    for key in unknown:
        logger.warning(
            "ignoring unknown field %r (%s); strict mode makes it an error",
            f"{where}.{key}" if where else str(key),
            expected,
        )
    return {k: v for k, v in value.items() if k in allowed}


def parse_address(value: object, where: str, *, listen: bool) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) as ``(host, port)``; port 0 only for a listen address."""
    if not isinstance(value, str) or not value:
        raise FieldError(where, "must be a non-empty 'host:port' string")
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise FieldError(where, f"{value!r} is not 'host:port'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise FieldError(where, f"{value!r}: write an IPv6 host in brackets, '[::1]:port'")
    if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        raise FieldError(where, f"{value!r}: port must be a number")
    port = int(port_text)
    if not (0 if listen else 1) <= port <= 65535:
        raise FieldError(where, f"{value!r}: port out of range")
    if not host and not listen:
        raise FieldError(where, f"{value!r}: an upstream needs a host")
    if any(c.isspace() or ord(c) < 32 or c in "/[]" for c in host):
        raise FieldError(where, f"{value!r}: invalid host")
    return host, port


@dataclass(frozen=True, slots=True)
class Toxic:
    """A fault on one stream of a proxy: Toxiproxy's toxic, validated.

    ``stream`` is the direction it acts on: ``"upstream"`` (client to server) or
    ``"downstream"`` (server to client). ``toxicity`` is the probability that a given
    connection is affected, decided once per connection. ``attributes`` are the type's
    integer attributes (:data:`TOXIC_ATTRIBUTES`), missing ones filled with 0. ``name``
    defaults to ``<type>_<stream>``.
    """

    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or self.type not in TOXIC_ATTRIBUTES:
            known = ", ".join(TOXIC_ATTRIBUTES)
            raise FieldError("type", f"invalid toxic type {self.type!r} (known: {known})")
        if self.stream not in STREAMS:
            raise FieldError("stream", "must be 'upstream' or 'downstream'")
        toxicity = self.toxicity
        if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
            raise FieldError("toxicity", f"must be a number, not {_kind(toxicity)}")
        if not 0.0 <= toxicity <= 1.0:  # also rejects NaN
            raise FieldError("toxicity", "must be between 0 and 1")
        object.__setattr__(self, "toxicity", float(toxicity))
        names = TOXIC_ATTRIBUTES[self.type]
        given = _object(self.attributes, "attributes", names)
        attributes = {n: _integer(given.get(n, 0), f"attributes.{n}") for n in names}
        if self.type == "slicer" and attributes["average_size"] < 1:
            raise FieldError("attributes.average_size", "a slicer needs an average_size >= 1")
        object.__setattr__(self, "attributes", MappingProxyType(attributes))
        object.__setattr__(self, "name", _name(self.name or f"{self.type}_{self.stream}", "name"))

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.stream, self.toxicity, *self.attributes.items()))

    def __getitem__(self, attribute: str) -> int:
        return self.attributes[attribute]

    @classmethod
    def from_json(cls, data: object, *, strict: bool = True) -> Toxic:
        """A toxic from its JSON object, with Toxiproxy's defaults.

        Unknown fields and attributes are errors when ``strict``, else dropped with a
        logged warning (as Toxiproxy ignores them).
        """
        obj = _object(data, "", ("name", "type", "stream", "toxicity", "attributes"), strict=strict)
        if "type" not in obj:
            raise FieldError("type", "missing required field")
        if not isinstance(obj["type"], str):
            raise FieldError("type", f"must be a string, not {_kind(obj['type'])}")
        name = obj.get("name")
        stream = obj.get("stream")
        attributes = obj.get("attributes")
        if not strict and obj["type"] in TOXIC_ATTRIBUTES and attributes is not None:
            attributes = _object(
                attributes, "attributes", TOXIC_ATTRIBUTES[obj["type"]], strict=False
            )
        return cls(
            type=obj["type"],
            stream="downstream" if stream in (None, "") else stream,
            toxicity=obj.get("toxicity", 1.0),
            attributes={} if attributes is None else attributes,
            name="" if name in (None, "") else _name(name, "name"),
        )

    def updated(self, data: object, *, strict: bool = True) -> Toxic:
        """This toxic with the fields of an update body applied (attributes merge)."""
        obj = _object(data, "", ("name", "type", "stream", "toxicity", "attributes"), strict=strict)
        for key in ("name", "type", "stream"):
            if key in obj and obj[key] not in (None, "", getattr(self, key)):
                raise FieldError(key, f"cannot be changed by an update (is {getattr(self, key)!r})")
        attributes = dict(self.attributes)
        if obj.get("attributes") is not None:
            attributes.update(
                _object(obj["attributes"], "attributes", tuple(attributes), strict=strict)
            )
        return Toxic(
            type=self.type,
            stream=self.stream,
            toxicity=obj.get("toxicity", self.toxicity),
            attributes=attributes,
            name=self.name,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


_PROXY_FIELDS = ("name", "listen", "upstream", "enabled", "toxics")


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """One proxy: listen on ``listen``, forward to ``upstream``, with ``toxics``.

    ``listen`` may use port 0 (the OS picks one). A disabled proxy does not listen at
    all, so clients see "connection refused", as for a service that is down.
    """

    name: str
    upstream: str
    listen: str = DEFAULT_LISTEN
    enabled: bool = True
    toxics: tuple[Toxic, ...] = ()

    def __post_init__(self) -> None:
        _name(self.name, "name")
        parse_address(self.upstream, "upstream", listen=False)
        parse_address(self.listen, "listen", listen=True)
        if not isinstance(self.enabled, bool):
            raise FieldError("enabled", f"must be true or false, not {_kind(self.enabled)}")
        seen: set[str] = set()
        for i, toxic in enumerate(self.toxics):
            if toxic.name in seen:
                raise FieldError(f"toxics[{i}].name", f"duplicate toxic name {toxic.name!r}")
            seen.add(toxic.name)

    @classmethod
    def from_json(cls, data: object, *, strict: bool = True) -> ProxyConfig:
        """A proxy from its JSON object; ``toxics`` (a seawall extension) may be given.

        As in Toxiproxy, an empty ``name`` or ``upstream`` counts as missing.
        """
        obj = _object(data, "", _PROXY_FIELDS, strict=strict)
        for key in ("name", "upstream"):
            if obj.get(key) in (None, ""):
                raise MissingField(key)
        toxics_json = obj.get("toxics")
        if toxics_json is None:
            toxics_json = []
        if not isinstance(toxics_json, list):
            raise FieldError("toxics", f"must be a list, not {_kind(toxics_json)}")
        toxics = []
        for i, item in enumerate(toxics_json):
            try:
                toxics.append(Toxic.from_json(item, strict=strict))
            except FieldError as exc:
                raise exc.within(f"toxics[{i}]") from None
        listen = obj.get("listen")
        return cls(
            name=obj["name"],
            upstream=obj["upstream"],
            listen=DEFAULT_LISTEN if listen in (None, "") else listen,
            enabled=obj.get("enabled", True),
            toxics=tuple(toxics),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics],
        }


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str | bytes) -> Any:
    """Strict JSON: no NaN/Infinity; every failure is a FieldError at the document."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "too deep"
        raise FieldError("", f"invalid JSON: {reason}") from None


def proxies_from_json(data: object, *, strict: bool = True) -> list[ProxyConfig]:
    """A list of proxies (Toxiproxy's populate body / config file) or ``{"proxies": [...]}``.

    The whole list is checked before anything is created from it, so one bad entry
    leaves the running proxies as they were.
    """
    if isinstance(data, Mapping) and set(data) == {"proxies"}:
        data = data["proxies"]
    if not isinstance(data, list):
        raise FieldError("", f"expected a list of proxies, not {_kind(data)}")
    proxies: list[ProxyConfig] = []
    names: set[str] = set()
    for i, item in enumerate(data):
        try:
            proxy = ProxyConfig.from_json(item, strict=strict)
        except MissingField as exc:  # Toxiproxy counts proxies from 1
            raise MissingField(f"[{i}].{exc.field}", f"{exc.label} at proxy {i + 1}") from None
        except FieldError as exc:
            raise exc.within(f"[{i}]") from None
        if proxy.name in names:
            raise FieldError(f"[{i}].name", f"duplicate proxy name {proxy.name!r}")
        names.add(proxy.name)
        proxies.append(proxy)
    return proxies


def load_config(path: str | Path, *, strict: bool = True) -> list[ProxyConfig]:
    """Proxies from a config file: Toxiproxy's JSON list (``.json``) or the same in YAML.

    Errors are :class:`~seawall.ConfigError` naming the file and the field; unknown
    fields are errors when ``strict``, else ignored with a logged warning.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read config: {exc}") from exc
    try:
        yaml = source.endswith((".yaml", ".yml"))
        data = _load_yaml(text, source) if yaml else parse_json(text)
        return proxies_from_json(data, strict=strict)
    except FieldError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise ConfigError(f"{source}: {where}{exc.reason}") from None


def _load_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ModuleNotFoundError as exc:  # pragma: no cover - PyYAML ships with seawall[chaos]
        raise ConfigError(f"{source}: YAML config needs PyYAML (seawall[chaos])") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FieldError("", f"invalid YAML: {exc}") from None
    return data
