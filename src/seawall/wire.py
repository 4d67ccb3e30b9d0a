"""Wire formats for deadlines and priorities on HTTP (and gRPC-style) headers.

The budget travels *relative* (milliseconds left), never as an absolute time, so clock
skew between hosts cannot stretch or shrink it. Ingress accepts seawall's own
``X-Request-Timeout-Ms``, gRPC's ``grpc-timeout`` (every unit of the gRPC over HTTP/2
spec) and Envoy's ``x-envoy-expected-rq-timeout-ms``; when several are present the
smallest wins, and a server always caps what it receives at its own maximum so a caller
cannot extend it. Malformed values raise :class:`~seawall.HeaderError` with the reason —
an HTTP edge turns that into a 400, never a 500.

:func:`parse_ratelimit` reads the ``RateLimit`` field a rate-limited server sends
(draft-ietf-httpapi-ratelimit-headers-11), for a caller that paces itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from seawall._errors import HeaderError
from seawall._quota_fields import ServiceLimit
from seawall._quota_fields import parse_limit_field as parse_ratelimit

__all__ = [
    "ATTEMPT_HEADER",
    "ENVOY_TIMEOUT_HEADER",
    "GRPC_TIMEOUT_HEADER",
    "PRIORITIES",
    "PRIORITY_HEADER",
    "TIMEOUT_HEADER",
    "ServiceLimit",
    "budget_from_headers",
    "encode_grpc_timeout",
    "encode_timeout_ms",
    "parse_grpc_timeout",
    "parse_priority",
    "parse_ratelimit",
    "parse_timeout_ms",
]

TIMEOUT_HEADER = "x-request-timeout-ms"
GRPC_TIMEOUT_HEADER = "grpc-timeout"
ENVOY_TIMEOUT_HEADER = "x-envoy-expected-rq-timeout-ms"
PRIORITY_HEADER = "x-request-priority"
ATTEMPT_HEADER = "x-request-attempt"

PRIORITIES = ("critical", "high", "normal", "low")
_BUDGET_NAMES = frozenset({TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, ENVOY_TIMEOUT_HEADER})

_MS = re.compile(r"[0-9]{1,12}")
# gRPC spec: TimeoutValue is at most 8 ASCII digits, followed by one unit letter.
_GRPC = re.compile(r"([0-9]{1,8})([HMSmun])")
_GRPC_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_GRPC_MAX_VALUE = 99_999_999
_MS_MAX_VALUE = 999_999_999_999  # the most that parse_timeout_ms reads back (12 digits)


def parse_timeout_ms(value: str, header: str = TIMEOUT_HEADER) -> float:
    """Seconds from a non-negative integer count of milliseconds."""
    text = value.strip()
    if not _MS.fullmatch(text):
        raise HeaderError(header, value, "expected a non-negative integer of milliseconds")
    return int(text) / 1000.0


def encode_timeout_ms(seconds: float) -> str:
    """Milliseconds left, rounded down so that encoding never extends a budget.

    Capped at the 12 digits a receiver reads (about 31 years; ``inf`` too), so that a very
    long budget never turns into a header the other side rejects.
    """
    if math.isnan(seconds):
        raise ValueError("cannot encode a NaN timeout")
    if seconds * 1000.0 >= _MS_MAX_VALUE:
        return str(_MS_MAX_VALUE)
    return str(max(0, math.floor(seconds * 1000.0)))


def parse_grpc_timeout(value: str) -> float:
    """Seconds from a ``grpc-timeout`` value such as ``"250m"`` or ``"1S"``."""
    match = _GRPC.fullmatch(value.strip())
    if match is None:
        raise HeaderError(
            GRPC_TIMEOUT_HEADER, value, "expected 1-8 digits followed by one of H M S m u n"
        )
    return int(match.group(1)) * _GRPC_UNITS[match.group(2)]


def encode_grpc_timeout(seconds: float) -> str:
    """The finest ``grpc-timeout`` unit whose value fits in 8 digits, rounded down."""
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"cannot encode timeout {seconds!r}")
    if seconds >= _GRPC_MAX_VALUE * _GRPC_UNITS["H"]:  # also inf: the longest it can say
        return f"{_GRPC_MAX_VALUE}H"
    for unit in ("n", "u", "m", "S", "M", "H"):
        count = math.floor(seconds / _GRPC_UNITS[unit])
        if count <= _GRPC_MAX_VALUE:
            return f"{count}{unit}"
    return f"{_GRPC_MAX_VALUE}H"


def parse_priority(value: str) -> str:
    """One of critical / high / normal / low (case-insensitive)."""
    priority = value.strip().lower()
    if priority not in PRIORITIES:
        raise HeaderError(PRIORITY_HEADER, value, f"expected one of {', '.join(PRIORITIES)}")
    return priority


_BUDGET_HEADERS = {
    name.encode(): name for name in (TIMEOUT_HEADER, GRPC_TIMEOUT_HEADER, ENVOY_TIMEOUT_HEADER)
}


def _lookup(headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The budget headers present, by lower-case name (only those: this runs per request)."""
    if isinstance(headers, Mapping):
        return {k.lower(): str(v) for k, v in headers.items() if k.lower() in _BUDGET_NAMES}
    found: dict[str, str] = {}
    for raw_key, raw_value in headers:
        key = _BUDGET_HEADERS.get(raw_key) or _BUDGET_HEADERS.get(raw_key.lower())
        if key is None:
            continue
        if key in found:
            raise HeaderError(key, raw_value.decode("latin-1"), "header sent more than once")
        found[key] = raw_value.decode("latin-1")
    return found


def budget_from_headers(
    headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]],
    *,
    maximum: float | None = None,
) -> float | None:
    """The budget in seconds a caller granted, capped at ``maximum``.

    Reads every supported timeout header, takes the smallest, and caps it at the server's
    own ``maximum``. Without any header the result is ``maximum`` (which may be ``None``).
    ``headers`` is a mapping or ASGI-style ``(name, value)`` byte pairs.
    """
    found = _lookup(headers)
    if not found:
        return maximum
    budgets: list[float] = []
    if TIMEOUT_HEADER in found:
        budgets.append(parse_timeout_ms(found[TIMEOUT_HEADER]))
    if GRPC_TIMEOUT_HEADER in found:
        budgets.append(parse_grpc_timeout(found[GRPC_TIMEOUT_HEADER]))
    if ENVOY_TIMEOUT_HEADER in found:
        budgets.append(parse_timeout_ms(found[ENVOY_TIMEOUT_HEADER], ENVOY_TIMEOUT_HEADER))
    if maximum is not None:
        budgets.append(maximum)
    return min(budgets) if budgets else None
