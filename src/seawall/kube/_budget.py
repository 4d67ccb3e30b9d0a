"""The timeout-budget check: "always shorter going down", with retries counted.

Per edge, the worst case a caller can spend on one call is every attempt timing out plus
every backoff sleep between them; that must fit in what the caller's own budget leaves
after its reserve (the same 10 %, at least 50 ms, that :func:`seawall.downstream_timeout`
keeps). Per path, retries multiply: three layers each making three attempts turn one
request into 3 x 3 x 3 = 27 at the bottom. A retry budget (retries <= r x requests)
caps one layer's factor at 1 + r, which is why every retrying layer needs one.
"""

from __future__ import annotations

from dataclasses import dataclass

from seawall._deadline import MIN_RESERVE, RESERVE_RATIO
from seawall._errors import ConfigError
from seawall.kube._graph import Call, Graph
from seawall.kube._rules import RULES, Finding, Severity

__all__ = ["BudgetReport", "EdgeReport", "PathReport", "allowed_downstream", "check_budget"]

_EPSILON = 1e-9
_MAX_PATHS = 100_000


def allowed_downstream(budget: float) -> float:
    """What a caller with ``budget`` seconds may hand down: budget minus its reserve."""
    return max(budget - max(budget * RESERVE_RATIO, MIN_RESERVE), 0.0)


@dataclass(frozen=True)
class EdgeReport:
    call: Call
    timeout: float
    worst_case: float
    allowed: float
    amplification: float

    @property
    def ok(self) -> bool:
        return self.worst_case <= self.allowed + _EPSILON


@dataclass(frozen=True)
class PathReport:
    services: tuple[str, ...]
    amplification: float
    limit: float

    @property
    def ok(self) -> bool:
        return self.amplification <= self.limit + _EPSILON


@dataclass(frozen=True)
class BudgetReport:
    edges: tuple[EdgeReport, ...]
    paths: tuple[PathReport, ...]
    findings: tuple[Finding, ...]

    @property
    def exit_code(self) -> int:
        return 1 if any(f.severity is Severity.ERROR for f in self.findings) else 0


def edge_amplification(call: Call) -> float:
    """Requests the callee sees per request the caller receives, when every attempt fails."""
    if call.retry_budget is None:
        return float(call.attempts)
    return min(float(call.attempts), 1.0 + call.retry_budget)


def _finding(rule_id: str, call: Call, message: str) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity=RULES[rule_id].severity,
        message=message,
        source=call.source,
        line=call.line,
        resource=f"{call.caller} -> {call.callee}",
    )


def _edge(graph: Graph, call: Call) -> tuple[EdgeReport, list[Finding]]:
    caller = graph.services[call.caller]
    callee = graph.services.get(call.callee)
    timeout = call.timeout if call.timeout is not None else callee.budget if callee else 0.0
    worst = call.attempts * timeout + sum(call.sleeps)
    report = EdgeReport(
        call, timeout, worst, allowed_downstream(caller.budget), edge_amplification(call)
    )
    findings: list[Finding] = []
    if not report.ok:
        sleeps = f" + {sum(call.sleeps):g}s backoff" if call.sleeps else ""
        findings.append(
            _finding(
                "SW201",
                call,
                f"{call.caller} -> {call.callee}: {call.attempts} x {timeout:g}s{sleeps} = "
                f"{worst:g}s exceeds the {report.allowed:g}s that {call.caller}'s "
                f"{caller.budget:g}s budget leaves after its reserve",
            )
        )
    if callee is not None and call.timeout is not None and callee.budget > call.timeout + _EPSILON:
        findings.append(
            _finding(
                "SW202",
                call,
                f"{call.caller} -> {call.callee}: {call.callee}'s {callee.budget:g}s budget "
                f"outlives the {call.timeout:g}s {call.caller} waits for each attempt",
            )
        )
    return report, findings


def _entries(graph: Graph) -> list[str]:
    if graph.entries:
        return list(graph.entries)
    called = {c.callee for s in graph.services.values() for c in s.calls}
    roots = [name for name in graph.services if name not in called]
    return roots or list(graph.services)  # all in cycles: start anywhere, SW204 reports it


def _walk(graph: Graph) -> tuple[list[PathReport], list[Finding]]:
    """Every maximal path from an entry, its amplification, crossings and cycles."""
    paths: list[PathReport] = []
    findings: list[Finding] = []
    crossed: set[tuple[str, ...]] = set()
    cycles: set[frozenset[str]] = set()
    limit = graph.max_amplification

    def visit(path: tuple[str, ...], amplification: float) -> None:
        if len(paths) > _MAX_PATHS:
            raise ConfigError(f"the call graph has more than {_MAX_PATHS} paths")
        service = graph.services.get(path[-1])
        calls = service.calls if service else ()
        extended = False
        for call in calls:
            if call.callee in path:
                cycle = (*path[path.index(call.callee) :], call.callee)
                if frozenset(cycle) not in cycles:
                    cycles.add(frozenset(cycle))
                    findings.append(_finding("SW204", call, "call cycle " + " -> ".join(cycle)))
                continue
            extended = True
            nxt = (*path, call.callee)
            total = amplification * edge_amplification(call)
            if total > limit + _EPSILON >= amplification and nxt not in crossed:
                crossed.add(nxt)
                findings.append(
                    _finding(
                        "SW203",
                        call,
                        f"{' -> '.join(nxt)}: worst-case amplification {total:.3g}x "
                        f"exceeds {limit:g}x",
                    )
                )
            visit(nxt, total)
        if not extended and len(path) > 1:
            paths.append(PathReport(path, amplification, limit))

    for entry in _entries(graph):
        visit((entry,), 1.0)
    return paths, findings


def check_budget(graph: Graph) -> BudgetReport:
    """Check every edge's worst case against its caller's budget, and every path's
    worst-case amplification against ``graph.max_amplification``."""
    edges: list[EdgeReport] = []
    findings: list[Finding] = []
    for service in graph.services.values():
        for call in service.calls:
            report, problems = _edge(graph, call)
            edges.append(report)
            findings.extend(problems)
    paths, path_findings = _walk(graph)
    findings.extend(path_findings)
    findings.sort(key=lambda f: (f.source, f.line, f.rule_id, f.message))
    return BudgetReport(tuple(edges), tuple(paths), tuple(findings))
