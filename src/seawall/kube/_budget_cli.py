"""``seawall budget check``: the timeout-budget checker on a graph file or on manifests.

The input kind is recognised per document: a mapping with ``services`` and no ``kind`` is
a graph file; anything else is read as Kubernetes objects carrying seawall's budget
annotations (what ``kube generate`` writes), so ``helm template . | seawall budget
check -`` works. Exit codes as everywhere: 0 clean, 1 error findings, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from seawall._errors import ConfigError
from seawall.kube._budget import BudgetReport, check_budget
from seawall.kube._graph import load_graph
from seawall.kube._report import FORMATS, render, table
from seawall.kube._rules import BUDGET_RULES

__all__ = ["register"]


def _human(report: BudgetReport) -> str:
    edges = [
        (
            f"{e.call.caller} -> {e.call.callee}",
            str(e.call.attempts),
            f"{e.timeout:g}s",
            f"{sum(e.call.sleeps):g}s",
            f"{e.worst_case:g}s",
            f"{e.allowed:g}s",
            f"{e.amplification:g}x",
            "ok" if e.ok else "OVER",
        )
        for e in report.edges
    ]
    paths = [
        (" -> ".join(p.services), f"{p.amplification:.3g}x", "ok" if p.ok else "OVER")
        for p in report.paths
    ]
    parts = [
        table(
            ("CALL", "ATTEMPTS", "TIMEOUT", "BACKOFF", "WORST", "ALLOWED", "AMPL", "STATUS"), edges
        ),
        "",
        table(("PATH", "AMPLIFICATION", "STATUS"), paths),
        "",
    ]
    return "\n".join(parts) + "\n"


def _json_extra(report: BudgetReport) -> dict[str, Any]:
    return {
        "edges": [
            {
                "caller": e.call.caller,
                "callee": e.call.callee,
                "attempts": e.call.attempts,
                "attempt_timeout": e.timeout,
                "backoff": sum(e.call.sleeps),
                "worst_case": e.worst_case,
                "allowed": e.allowed,
                "amplification": e.amplification,
                "ok": e.ok,
            }
            for e in report.edges
        ],
        "paths": [
            {"services": list(p.services), "amplification": p.amplification, "ok": p.ok}
            for p in report.paths
        ],
    }


def _check(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.paths)
        if args.max_amplification is not None:
            if not args.max_amplification >= 1.0:
                raise ConfigError(f"--max-amplification {args.max_amplification} must be >= 1")
            graph = replace(graph, max_amplification=args.max_amplification)
        if args.entry:
            unknown = [e for e in args.entry if e not in graph.services]
            if unknown:
                raise ConfigError(f"--entry {unknown[0]!r} is not a service of the graph")
            graph = replace(graph, entries=tuple(args.entry))
        report = check_budget(graph)
    except ConfigError as exc:
        print(f"seawall: {exc}", file=sys.stderr)
        return 2
    calls, paths = len(report.edges), len(report.paths)
    summary = (
        f"{calls} call{'s' if calls != 1 else ''}, {paths} path{'s' if paths != 1 else ''} checked"
    )
    text = render(
        args.format,
        report.findings,
        tool="seawall-budget",
        rules=BUDGET_RULES,
        summary=summary,
        extra=_json_extra(report),
    )
    if args.format == "human":
        text = _human(report) + text
    elif args.format == "json":
        text = json.dumps(json.loads(text), indent=2) + "\n"
    sys.stdout.write(text)
    return report.exit_code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``budget`` with its ``check`` subcommand."""
    budget = subparsers.add_parser("budget", help="check timeout budgets along a call graph")

    def usage(_args: argparse.Namespace) -> int:
        budget.print_help()
        return 2

    budget.set_defaults(func=usage)
    sub = budget.add_subparsers(dest="budget_command", metavar="COMMAND")
    check = sub.add_parser("check", help="check a graph file, or manifests' budget annotations")
    check.add_argument("paths", nargs="+", metavar="GRAPH", help="graph YAML, manifests, or -")
    check.add_argument("--format", choices=FORMATS, default="human")
    check.add_argument("--max-amplification", type=float, help="flag paths above this (default 10)")
    check.add_argument("--entry", action="append", help="entry service (repeatable)")
    check.set_defaults(func=_check)
