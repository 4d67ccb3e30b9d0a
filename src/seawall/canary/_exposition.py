"""Prometheus text exposition (format 0.0.4), read just far enough to judge a canary.

The direct mode of the judge reads the services' own ``/metrics``, so a game day or a
laptop needs no Prometheus. It sums ``http_server_request_duration_seconds`` over all
routes and methods of a service: ``_count`` split by status class, and ``_bucket`` by
``le``. Malformed input is an :class:`ExpositionError` naming the line, never a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["SERVER_DURATION", "ExpositionError", "Sample", "Totals", "parse", "quantile", "totals"]

SERVER_DURATION = "http_server_request_duration_seconds"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ExpositionError(ValueError):
    """The text is not Prometheus exposition format."""


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def _labels(text: str, at: int, line: int) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    i = at
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        match = _LABEL.match(text, i)
        if match is None:
            raise ExpositionError(f"line {line}: bad label name at column {i + 1}")
        name = match.group()
        i = match.end()
        if text[i : i + 2] != '="':
            raise ExpositionError(f'line {line}: label {name} needs ="value"')
        i += 2
        value: list[str] = []
        while True:
            if i >= len(text):
                raise ExpositionError(f"line {line}: unterminated label value")
            ch = text[i]
            if ch == "\\":
                escaped = _ESCAPES.get(text[i + 1 : i + 2])
                if escaped is None:
                    raise ExpositionError(f"line {line}: bad escape in label {name}")
                value.append(escaped)
                i += 2
            elif ch == '"':
                i += 1
                break
            else:
                value.append(ch)
                i += 1
        labels[name] = "".join(value)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "}":
            raise ExpositionError(f"line {line}: expected ',' or '}}' after label {name}")


def _value(text: str, line: int) -> float:
    token = text.split()[0] if text.split() else ""
    try:
        return float(token)
    except ValueError:
        raise ExpositionError(f"line {line}: {token!r} is not a sample value") from None


def parse(text: str) -> Iterator[Sample]:
    """Every sample of ``text``; comments and blank lines skipped."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        if match is None:
            raise ExpositionError(f"line {number}: no metric name")
        i = match.end()
        labels: dict[str, str] = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i + 1, number)
        elif i < len(line) and line[i] not in " \t":
            raise ExpositionError(f"line {number}: bad character after the metric name")
        yield Sample(match.group(), labels, _value(line[i:], number))


@dataclass
class Totals:
    """One service's request counters at one scrape: requests, 5xx, buckets by ``le``."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def minus(self, earlier: Totals) -> Totals:
        return Totals(
            self.requests - earlier.requests,
            self.errors - earlier.errors,
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
        )


def totals(text: str) -> Totals:
    """Sum the server-duration histogram of one ``/metrics`` page."""
    out = Totals()
    for sample in parse(text):
        if sample.name == f"{SERVER_DURATION}_count":
            out.requests += sample.value
            if sample.labels.get("http_response_status_code", "").startswith("5"):
                out.errors += sample.value
        elif sample.name == f"{SERVER_DURATION}_bucket":
            try:
                le = float(sample.labels["le"])
            except (KeyError, ValueError):
                raise ExpositionError(f"{sample.name} without a numeric le label") from None
            out.buckets[le] = out.buckets.get(le, 0.0) + sample.value
    return out


def quantile(q: float, buckets: dict[float, float]) -> float:
    """``histogram_quantile`` as Prometheus computes it (linear within a bucket);
    NaN without observations."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return math.nan
    total = buckets[bounds[-1]]
    if total <= 0:
        return math.nan
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound
            if count == previous_count:
                return bound
            start = previous_bound if previous_bound < bound else 0.0
            return start + (bound - start) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound
