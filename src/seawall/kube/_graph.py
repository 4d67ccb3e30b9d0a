"""The service call graph the budget checker reads, from a graph file or from manifests.

A graph file::

    max_amplification: 10        # optional; flag paths amplifying load more than this
    entry: [frontend]            # optional; default: services nobody calls
    services:
      frontend:
        budget: 5                # seconds this service may spend on one request
        calls:
          - service: checkout    # the callee
            timeout: 4.5         # per attempt; default: the callee's own budget
            attempts: 1          # in all, first try included
            backoff: [0.1, 0.2]  # sleeps between attempts (or a number, or
                                 # {initial, multiplier, maximum, jitter}; default:
                                 # seawall's 1 s, 2 s, 4 s with 20 % jitter)
            retry_budget: 0.1    # retries <= 10 % of requests; bounds amplification
      checkout:
        budget: 4.5

Manifests carry the same facts as annotations on a workload (``kube generate`` writes
them): ``seawall.dev/budget-seconds: "5"`` and ``seawall.dev/calls`` holding the list of
calls as JSON. A callee with no entry is an external leaf; its calls must state a
timeout. Durations are seconds, or strings such as ``"250ms"`` or ``"2s"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, PathPart, load_text, read_sources
from seawall.kube._objects import KubeObject, objects_of

__all__ = [
    "BUDGET_ANNOTATION",
    "CALLS_ANNOTATION",
    "DEFAULT_MAX_AMPLIFICATION",
    "Call",
    "Graph",
    "Reader",
    "Service",
    "graph_from_document",
    "graph_from_objects",
    "load_graph",
    "parse_calls",
]

BUDGET_ANNOTATION = "seawall.dev/budget-seconds"
CALLS_ANNOTATION = "seawall.dev/calls"
DEFAULT_MAX_AMPLIFICATION = 10.0
_CALL_KEYS = {"service", "timeout", "attempts", "backoff", "retry_budget"}
# Far beyond any sane retry policy (3-5 attempts is the usual cap); a larger count is a
# typo, and an exponential backoff over it overflows a float.
MAX_ATTEMPTS = 100
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


@dataclass(frozen=True)
class Call:
    """One edge: how a caller calls a callee. ``sleeps`` are worst-case (jitter added)."""

    caller: str
    callee: str
    timeout: float | None
    attempts: int
    sleeps: tuple[float, ...]
    retry_budget: float | None
    source: str
    line: int


@dataclass(frozen=True)
class Service:
    name: str
    budget: float
    calls: tuple[Call, ...]
    source: str
    line: int


@dataclass(frozen=True)
class Graph:
    services: dict[str, Service]
    entries: tuple[str, ...] = ()
    max_amplification: float = DEFAULT_MAX_AMPLIFICATION


class Reader:
    """Typed field access that fails with file, line and field."""

    def __init__(self, doc: Document, base: tuple[PathPart, ...] = (), label: str = "") -> None:
        self.doc, self.base, self.label = doc, base, label

    def fail(self, path: tuple[PathPart, ...], problem: str) -> ConfigError:
        line = self.doc.line_of((*self.base, *path))
        name = ".".join(str(p) for p in path)
        where = f"{self.label} " if self.label else ""
        return ConfigError(f"{self.doc.source}:{line}: {where}{name}: {problem}")

    def seconds(self, value: Any, path: tuple[PathPart, ...]) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.match(value)):
            seconds = float(m[1]) / (1000.0 if m[2] == "ms" else 1.0)
        else:
            raise self.fail(path, f"{value!r} is not a duration (seconds, '250ms' or '2s')")
        if not math.isfinite(seconds) or seconds < 0:
            raise self.fail(path, f"{value!r} must be a finite, non-negative duration")
        return seconds

    def integer(
        self, value: Any, path: tuple[PathPart, ...], minimum: int, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"{value!r} must be an integer >= {minimum}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"{value!r} must be an integer from {minimum} to {maximum}")
        return value


def _sleeps(
    reader: Reader, raw: Any, attempts: int, path: tuple[PathPart, ...]
) -> tuple[float, ...]:
    """Worst-case sleeps between the attempts; the backoff is checked even for a single
    attempt, so a wrong value is reported where it is written, not when attempts grow."""
    gaps = attempts - 1
    if raw is None:
        raw = {}
    if isinstance(raw, list):
        if not raw:
            raise reader.fail(path, "an empty backoff list; use 0 for no sleep")
        base = [reader.seconds(v, (*path, i)) for i, v in enumerate(raw)]
        return tuple(base[min(i, len(base) - 1)] for i in range(gaps))
    if isinstance(raw, dict):
        unknown = set(raw) - {"initial", "multiplier", "maximum", "jitter"}
        if unknown:
            raise reader.fail(path, f"unknown backoff keys {sorted(unknown)}")
        initial = reader.seconds(raw.get("initial", 1.0), (*path, "initial"))
        multiplier = reader.seconds(raw.get("multiplier", 2.0), (*path, "multiplier"))
        maximum = raw.get("maximum")
        cap = math.inf if maximum is None else reader.seconds(maximum, (*path, "maximum"))
        jitter = reader.seconds(raw.get("jitter", 0.2), (*path, "jitter"))
        sleeps: list[float] = []
        delay = initial
        for i in range(gaps):
            # Multiplying step by step saturates at inf where ``multiplier ** i`` would
            # raise OverflowError.
            sleep = min(delay, cap) * (1 + jitter)
            if not math.isfinite(sleep):
                raise reader.fail(
                    path,
                    f"the backoff before attempt {i + 2} is beyond any budget; "
                    "set a 'maximum' or fewer attempts",
                )
            sleeps.append(sleep)
            delay *= multiplier
        return tuple(sleeps)
    seconds = reader.seconds(raw, path)
    return tuple(seconds for _ in range(gaps))


def parse_calls(
    reader: Reader, raw: Any, caller: str, path: tuple[PathPart, ...]
) -> tuple[Call, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise reader.fail(path, "must be a list of calls")
    calls: list[Call] = []
    for i, item in enumerate(raw):
        here = (*path, i)
        if not isinstance(item, dict):
            raise reader.fail(here, "a call must be a mapping with at least 'service'")
        unknown = set(item) - _CALL_KEYS
        if unknown:
            raise reader.fail(
                here, f"unknown keys {sorted(unknown)}; expected {sorted(_CALL_KEYS)}"
            )
        callee = item.get("service")
        if not isinstance(callee, str) or not callee:
            raise reader.fail((*here, "service"), "names no callee service")
        attempts = reader.integer(item.get("attempts", 1), (*here, "attempts"), 1, MAX_ATTEMPTS)
        timeout = item.get("timeout")
        budget = item.get("retry_budget")
        calls.append(
            Call(
                caller=caller,
                callee=callee,
                timeout=None if timeout is None else reader.seconds(timeout, (*here, "timeout")),
                attempts=attempts,
                sleeps=_sleeps(reader, item.get("backoff"), attempts, (*here, "backoff")),
                retry_budget=None
                if budget is None
                else reader.seconds(budget, (*here, "retry_budget")),
                source=reader.doc.source,
                line=reader.doc.line_of((*reader.base, *here)),
            )
        )
    return tuple(calls)


def _finish(services: dict[str, Service], entries: tuple[str, ...], limit: float) -> Graph:
    for service in services.values():
        for call in service.calls:
            if call.callee not in services and call.timeout is None:
                raise ConfigError(
                    f"{call.source}:{call.line}: call {call.caller} -> {call.callee}: "
                    f"{call.callee!r} is not in the graph, so the call needs a 'timeout'"
                )
    return Graph(services, entries, limit)


def graph_from_document(doc: Document) -> Graph:
    """A graph file (one YAML document with ``services``)."""
    reader = Reader(doc)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise reader.fail(("services",), "a budget graph needs a 'services' mapping")
    unknown = set(data) - {"services", "entry", "max_amplification"}
    if unknown:
        raise reader.fail((sorted(unknown)[0],), "unknown key")
    services: dict[str, Service] = {}
    for name, body in data["services"].items():
        path: tuple[PathPart, ...] = ("services", name)
        if not isinstance(body, dict) or "budget" not in body:
            raise reader.fail(path, "needs a 'budget' (seconds)")
        if set(body) - {"budget", "calls"}:
            raise reader.fail(path, f"unknown keys {sorted(set(body) - {'budget', 'calls'})}")
        services[name] = Service(
            name,
            reader.seconds(body["budget"], (*path, "budget")),
            parse_calls(reader, body.get("calls"), name, (*path, "calls")),
            doc.source,
            doc.line_of(path),
        )
    entries = data.get("entry", [])
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list) or any(e not in services for e in entries):
        raise reader.fail(("entry",), "must list services of the graph")
    limit = data.get("max_amplification", DEFAULT_MAX_AMPLIFICATION)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit >= 1:
        raise reader.fail(("max_amplification",), f"{limit!r} must be a number >= 1")
    return _finish(services, tuple(entries), float(limit))


def graph_from_objects(objects: Sequence[KubeObject]) -> Graph:
    """The graph the ``seawall.dev/budget-seconds`` and ``seawall.dev/calls``
    annotations describe; objects without a budget annotation are not services."""
    services: dict[str, Service] = {}
    for obj in objects:
        annotations = obj.annotations
        if BUDGET_ANNOTATION not in annotations:
            continue
        base = (*obj.prefix, "metadata", "annotations")
        reader = Reader(obj.doc, base, obj.ref)
        raw_calls = annotations.get(CALLS_ANNOTATION)
        calls: Any = None
        if raw_calls is not None:
            try:
                calls = json.loads(raw_calls) if isinstance(raw_calls, str) else raw_calls
            except json.JSONDecodeError as exc:
                raise reader.fail((CALLS_ANNOTATION,), f"not JSON: {exc.msg}") from exc
        if obj.name in services:
            raise reader.fail((BUDGET_ANNOTATION,), f"a second service named {obj.name!r}")
        services[obj.name] = Service(
            obj.name,
            reader.seconds(annotations[BUDGET_ANNOTATION], (BUDGET_ANNOTATION,)),
            parse_calls(reader, calls, obj.name, (CALLS_ANNOTATION,)),
            obj.doc.source,
            obj.line(("metadata", "annotations", BUDGET_ANNOTATION)),
        )
    return _finish(services, (), DEFAULT_MAX_AMPLIFICATION)


def _is_graph(doc: Document) -> bool:
    return isinstance(doc.data, dict) and "services" in doc.data and "kind" not in doc.data


def load_graph(paths: list[str]) -> Graph:
    """One graph from a graph file, or from the annotations of every manifest given."""
    documents = [d for source, text in read_sources(paths) for d in load_text(text, source)]
    graphs = [d for d in documents if _is_graph(d)]
    if graphs:
        if len(graphs) != len(documents) or len(graphs) > 1:
            raise ConfigError(
                f"{graphs[0].source}: give one graph file, or manifests, not both or several"
            )
        return graph_from_document(graphs[0])
    graph = graph_from_objects([o for d in documents for o in objects_of(d)])
    if not graph.services:
        raise ConfigError(
            "no services: no graph file, and no seawall.dev/budget-seconds annotations"
        )
    return graph
