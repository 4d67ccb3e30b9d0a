"""``seawall sim``: run a built-in scenario, list them, or sweep one parameter.

``run`` prints the naive vs seawall table and writes the HTML report (with ``--json``,
the results as JSON on stdout instead of the table). ``sweep`` runs one scenario for
each value of a parameter in at most two worker processes; each run is seeded, so a
sweep gives the same numbers as the same runs made one by one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from seawall.sim._scenarios import SCENARIOS, Outcome, run_scenario

__all__ = ["register"]

SWEEPABLE = ("clients", "seed", "until")
MAX_CLIENTS = 1_000_000
MAX_UNTIL = 86_400.0


def _fail(message: str) -> int:
    print(f"seawall sim: {message}", file=sys.stderr)
    return 2


def _check(scenario: str, clients: int, seed: int, until: float | None) -> str | None:
    if scenario not in SCENARIOS:
        return f"unknown scenario {scenario!r}; one of: {', '.join(SCENARIOS)}"
    if not 10 <= clients <= MAX_CLIENTS:
        return f"--clients must be within 10..{MAX_CLIENTS:,}, got {clients}"
    if seed < 0:
        return f"--seed must be >= 0, got {seed}"
    if until is not None and not 10.0 <= until <= MAX_UNTIL:
        return f"--until must be within 10..{MAX_UNTIL:g} virtual seconds, got {until:g}"
    return None


def _unwritable(path: Path | None) -> str | None:
    """Why the report cannot go to ``path``, found before a run that may take minutes."""
    if path is None:
        return None
    if path.is_dir():
        return f"cannot write the report: {path} is a directory"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot write the report: {exc}"
    if not os.access(path.parent, os.W_OK):
        return f"cannot write the report: {path.parent} is not writable"
    return None


def _run(args: argparse.Namespace) -> int:
    problem = _check(args.scenario, args.clients, args.seed, args.until) or _unwritable(args.report)
    if problem:
        return _fail(problem)
    outcome = run_scenario(args.scenario, args.clients, args.seed, args.until)
    written: list[Path] = []
    if args.report is not None:
        try:
            from seawall.sim._report import write_report

            written = write_report(args.report, outcome)
        except ModuleNotFoundError as exc:
            return _fail(f"the report needs {exc.name!r}: pip install 'seawall[sim]'")
        except OSError as exc:
            return _fail(f"cannot write the report: {exc}")
    if args.json:
        print(json.dumps(outcome.to_json(), indent=1))
    else:
        from seawall.sim._report import text_table

        print(text_table(outcome))
        for path in written:
            print(f"wrote {path}")
    return 0 if outcome.won or not args.strict else 1


def _list(args: argparse.Namespace) -> int:
    width = max(map(len, SCENARIOS))
    for name, scenario in SCENARIOS.items():
        print(f"{name.ljust(width)}  {scenario.title}: {scenario.story}")
    return 0


def _one(job: tuple[str, int, int, float | None]) -> Outcome:
    return run_scenario(*job)


def sweep(
    scenario: str, parameter: str, values: Sequence[float], clients: int, seed: int,
    until: float | None, workers: int = 2,
) -> list[Outcome]:  # fmt: skip
    """Run ``scenario`` once per value of ``parameter``, in at most two processes."""
    jobs = []
    for value in values:
        c, s, u = clients, seed, until
        if parameter == "clients":
            c = int(value)
        elif parameter == "seed":
            s = int(value)
        else:
            u = float(value)
        jobs.append((scenario, c, s, u))
    if workers <= 1 or len(jobs) == 1:
        return [_one(job) for job in jobs]
    # spawn, not fork: a forked child of a threaded parent can inherit a held lock.
    with ProcessPoolExecutor(min(2, workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        return list(pool.map(_one, jobs))


def _sweep(args: argparse.Namespace) -> int:
    if args.parameter not in SWEEPABLE:
        return _fail(f"can sweep {', '.join(SWEEPABLE)}; got {args.parameter!r}")
    values: list[float] = []
    for raw in args.values.split(","):
        try:
            values.append(float(raw))
        except ValueError:
            return _fail(f"--values takes numbers separated by commas, got {raw!r}")
    if not 1 <= len(values) <= 20:
        return _fail(f"--values takes 1 to 20 values, got {len(values)}")
    for value in values:
        # A whole number first: int() of a NaN or an infinity raises rather than answers.
        if args.parameter in ("clients", "seed") and not value.is_integer():
            return _fail(f"{args.parameter} takes whole numbers, got {value:g}")
        clients = int(value) if args.parameter == "clients" else args.clients
        seed = int(value) if args.parameter == "seed" else args.seed
        until = value if args.parameter == "until" else args.until
        problem = _check(args.scenario, clients, seed, until)
        if problem:
            return _fail(problem)
    problem = _unwritable(args.report)
    if problem:
        return _fail(problem)
    outcomes = sweep(
        args.scenario, args.parameter, values, args.clients, args.seed, args.until, args.workers
    )
    from seawall.sim._report import text_table

    for value, outcome in zip(values, outcomes, strict=True):
        print(f"## {args.parameter} = {value:g}\n")
        print(text_table(outcome) + "\n")
    if args.report is not None:
        try:
            from seawall.sim._report import write_sweep_report

            paths = write_sweep_report(args.report, args.parameter, values, outcomes)
        except ModuleNotFoundError as exc:
            return _fail(f"the report needs {exc.name!r}: pip install 'seawall[sim]'")
        except OSError as exc:
            return _fail(f"cannot write the report: {exc}")
        for path in paths:
            print(f"wrote {path}")
    return 0


def _common(p: argparse.ArgumentParser, report: str) -> None:
    p.add_argument("scenario", metavar="SCENARIO", help="see `seawall sim list`")
    p.add_argument("--clients", type=int, default=10_000, help="clients (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--until", type=float, default=None, help="virtual seconds (default: the scenario's)"
    )
    p.add_argument(
        "--report",
        type=Path,
        default=Path(report),
        help=f"where to write the HTML report (default {report})",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "sim",
        help="simulate seawall's real policies at scale on virtual time",
        description="Run a built-in scenario on virtual time, naive vs seawall on the same "
        "seeded faults, with seawall's real policy code.",
    )
    sub = p.add_subparsers(dest="sim_command", metavar="{run,list,sweep}", required=True)
    run = sub.add_parser("run", help="run one scenario and compare naive with seawall")
    _common(run, "reports/sim.html")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.add_argument("--strict", action="store_true", help="exit 1 unless seawall wins")
    run.set_defaults(func=_run)
    listing = sub.add_parser("list", help="list the scenarios")
    listing.set_defaults(func=_list)
    sweeping = sub.add_parser("sweep", help="run a scenario across values of one parameter")
    sweeping.add_argument("parameter", metavar="PARAM", help=f"one of {', '.join(SWEEPABLE)}")
    sweeping.add_argument("--values", required=True, help="comma-separated values, e.g. 10,100")
    sweeping.add_argument(
        "--workers", type=int, default=2, choices=(1, 2), help="processes (default 2)"
    )
    _common(sweeping, "reports/sim-sweep.html")
    sweeping.set_defaults(func=_sweep)
