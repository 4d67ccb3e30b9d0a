"""The ``RateLimit-Policy`` and ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers-11).

Both are Structured Field Lists (RFC 9651) of Items whose value is the policy's name, a
String, with parameters:

    RateLimit-Policy: "tenant";q=200;w=1;seawall-burst=50
    RateLimit: "tenant";r=12;t=1

``q`` is the quota in requests per window of ``w`` seconds (GCRA's sustained rate,
rounded so that both are integers); ``seawall-burst`` (a vendor parameter, as the draft
asks for implementation-specific ones) the units an idle key may use at once. ``r`` is
the units available now and ``t`` the whole seconds (rounded up) until one more unit is
available: within ``t`` the client can use no more than ``r``. On a 429, ``r`` is 0 and
``t`` equals ``Retry-After``, as the draft asks (Retry-After no earlier than the end of
the effective window).

Transport-neutral: the ASGI, WSGI and gRPC edges format with it, the clients parse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seawall._errors import HeaderError
from seawall.policies._gcra import Quota, Verdict

__all__ = [
    "DRAFT",
    "ServiceLimit",
    "check_policy_name",
    "limit_field",
    "parse_limit_field",
    "policy_field",
    "seconds_until_more",
]

DRAFT = "draft-ietf-httpapi-ratelimit-headers-11"


def check_policy_name(name: str) -> str:
    """``name`` if it can be an SF String (printable ASCII), else a clear error."""
    if not all(" " <= ch <= "~" for ch in name):
        raise HeaderError(
            "RateLimit-Policy", name, "a policy name must be printable ASCII (a limiter's name)"
        )
    return name


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_field(name: str, quota: Quota) -> bytes:
    """``RateLimit-Policy`` for a limiter called ``name`` with ``quota``."""
    window = max(1, math.ceil(1.0 / quota.rate - 1e-9))
    units = max(1, math.floor(quota.rate * window + 1e-9))
    return f"{_string(name)};q={units};w={window};seawall-burst={quota.burst}".encode()


def seconds_until_more(verdict: Verdict, quota: Quota) -> int:
    """Whole seconds (rounded up) until more than ``verdict.remaining`` units are available."""
    if not verdict.allowed:
        return max(1, math.ceil(verdict.retry_after - 1e-9))
    interval = 1.0 / quota.rate
    room = quota.burst * interval - verdict.reset  # tolerance not yet used
    return max(0, math.ceil((verdict.remaining + 1) * interval - room - 1e-9))


def limit_field(name: str, verdict: Verdict, quota: Quota) -> bytes:
    """``RateLimit`` for one request's ``verdict``."""
    remaining = verdict.remaining if verdict.allowed else 0
    return f"{_string(name)};r={remaining};t={seconds_until_more(verdict, quota)}".encode()


@dataclass(frozen=True, slots=True)
class ServiceLimit:
    """One item of a ``RateLimit`` field: policy ``name``, ``remaining`` units, ``reset`` (``t``)
    seconds, or ``None`` when the server did not send ``t``."""

    name: str
    remaining: int
    reset: int | None


_MAX_INTEGER = 999_999_999_999_999  # RFC 9651 Integers have at most 15 digits
_KEY_START = frozenset("abcdefghijklmnopqrstuvwxyz*")
_KEY_REST = _KEY_START | frozenset("0123456789_-.")
_TOKEN_REST = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ:/"
)
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class _Parser:
    """RFC 9651 List parsing, for what these two fields hold (Items with parameters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> HeaderError:
        return HeaderError("RateLimit", self.text, reason)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def items(self) -> list[tuple[object, dict[str, object]]]:
        out: list[tuple[object, dict[str, object]]] = []
        self.skip(" ")
        if self.pos == len(self.text):
            return out
        while True:
            if self.peek() == "(":
                raise self.fail("inner lists are not service limits")
            value = self.bare()
            out.append((value, self.params()))
            self.skip(" \t")
            if self.pos == len(self.text):
                return out
            if self.peek() != ",":
                raise self.fail(f"expected ',' at {self.pos}")
            self.pos += 1
            self.skip(" \t")
            if self.pos == len(self.text):
                raise self.fail("trailing comma")

    def params(self) -> dict[str, object]:
        params: dict[str, object] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: object = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare()
            params[key] = value
        return params

    def key(self) -> str:
        start = self.pos
        if self.peek() not in _KEY_START or not self.peek():
            raise self.fail(f"expected a parameter key at {self.pos}")
        self.pos += 1
        while self.peek() and self.peek() in _KEY_REST:
            self.pos += 1
        return self.text[start : self.pos]

    def bare(self) -> object:
        ch = self.peek()
        if ch == '"':
            return self.string()
        if ch == "-" or (ch.isdigit() and ch.isascii()):
            return self.number()
        if ch == ":":
            end = self.text.find(":", self.pos + 1)
            if end < 0 or not set(self.text[self.pos + 1 : end]) <= _BASE64:
                raise self.fail("bad byte sequence")
            self.pos = end + 1
            return self.text[self.pos - 1 : end]
        if ch == "?":
            flag = self.text[self.pos + 1 : self.pos + 2]
            if flag not in ("0", "1"):
                raise self.fail("bad boolean")
            self.pos += 2
            return flag == "1"
        if ch and ((ch.isascii() and ch.isalpha()) or ch == "*"):
            start = self.pos
            self.pos += 1
            while self.peek() and self.peek() in _TOKEN_REST:
                self.pos += 1
            return self.text[start : self.pos]
        raise self.fail(f"unexpected {ch!r} at {self.pos}" if ch else "unexpected end")

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\") or not nxt:
                    raise self.fail("bad escape in string")
                out.append(nxt)
                self.pos += 1
            elif ch == '"':
                return "".join(out)
            elif not " " <= ch <= "~":
                raise self.fail("non-printable character in string")
            else:
                out.append(ch)
        raise self.fail("unterminated string")

    def number(self) -> int | float:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        while self.peek() and (
            (self.peek().isascii() and self.peek().isdigit()) or self.peek() == "."
        ):
            self.pos += 1
        text = self.text[start : self.pos]
        try:
            if "." in text:
                return float(text)
            value = int(text)
        except ValueError:
            raise self.fail(f"bad number {text!r}") from None
        if abs(value) > _MAX_INTEGER:
            raise self.fail(f"integer out of range {text!r}")
        return value


def parse_limit_field(values: list[str]) -> list[ServiceLimit]:
    """The service limits in the ``RateLimit`` field lines ``values`` (one list, split).

    Items without a non-negative integer ``r`` are ignored (the draft makes ``r``
    required; a client must not act on a limit it cannot read). A malformed field raises
    :class:`~seawall.HeaderError`.
    """
    text = ", ".join(value.strip() for value in values if value.strip())
    out: list[ServiceLimit] = []
    for value, params in _Parser(text).items():
        remaining, reset = params.get("r"), params.get("t")
        if type(remaining) is not int or remaining < 0:
            continue
        out.append(
            ServiceLimit(
                name=value if isinstance(value, str) else "",
                remaining=remaining,
                reset=reset if type(reset) is int and reset >= 0 else None,
            )
        )
    return out
