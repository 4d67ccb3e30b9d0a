"""``seawall gameday``: the built-in game day, the project's main job (``make demo``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError

__all__ = ["register"]

_BAR = 24
# Steps without shop load: the pre-deploy checks, and split brain on a virtual clock.
_EXTRA_STEPS = ("split-brain", "operator-error")


class _Progress:
    """One line on stderr, redrawn in place on a terminal, a line per run otherwise."""

    def __init__(self, total_runs: int, duration: float) -> None:
        self.total = total_runs
        self.duration = duration
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.label = ""

    def start(self, label: str) -> None:
        self.label = label
        if not self.tty:
            print(f"  running {label} ...", file=sys.stderr, flush=True)

    def tick(self, elapsed: float) -> None:
        if not self.tty:
            return
        share = (self.done + min(elapsed / self.duration, 1.0)) / self.total
        filled = int(share * _BAR)
        bar = "#" * filled + "-" * (_BAR - filled)
        spent = time.monotonic() - self.started
        sys.stderr.write(f"\r  [{bar}] {share:4.0%}  {spent:5.1f}s  {self.label:<40}")
        sys.stderr.flush()

    def finish_run(self) -> None:
        self.done += 1
        if self.tty:
            sys.stderr.write("\r" + " " * (_BAR + 60) + "\r")


class _Ticker:
    """Feeds one scenario's (gateway, elapsed) progress into the bar."""

    def __init__(self, progress: _Progress, scenario: str) -> None:
        self.progress = progress
        self.scenario = scenario
        self.gateway = ""

    def __call__(self, gateway: str, elapsed: float) -> None:
        if gateway != self.gateway:
            if self.gateway:
                self.progress.finish_run()
            self.gateway = gateway
            self.progress.start(f"{self.scenario} / {gateway}")
        self.progress.tick(elapsed)


def _print_scenario(result: object) -> None:
    from seawall.gameday._report import ScenarioResult, table_rows

    assert isinstance(result, ScenarioResult)
    print(f"\n== {result.title}  [{result.mode}]")
    print(f"   {'metric (* decides)':<34}{'naive':>14}{'seawall':>14}")
    for metric, naive, ours in table_rows(result):
        print(f"   {metric:<34}{naive:>14}{ours:>14}")
    verdict = "seawall wins" if result.won else "NOT a seawall win"
    print(f"   verdict: {verdict} ({result.why})", flush=True)


async def _run(args: argparse.Namespace) -> int:
    from seawall.gameday._measure import judge
    from seawall.gameday._operator import operator_checks
    from seawall.gameday._report import ScenarioResult, write_gameday_report
    from seawall.gameday._scenarios import SCENARIOS, run_scenario, running_shop

    names = args.scenario or [*SCENARIOS, *_EXTRA_STEPS]
    unknown = [n for n in names if n not in SCENARIOS and n not in _EXTRA_STEPS]
    if unknown:
        raise ConfigError(
            f"unknown scenario {unknown[0]!r}; choose from {', '.join([*SCENARIOS, *_EXTRA_STEPS])}"
        )
    load_scenarios = [SCENARIOS[n] for n in names if n in SCENARIOS]
    print(
        f"seawall game day: {len(load_scenarios)} scenario(s) x naive/seawall, "
        f"{args.duration:g} s each at {args.rate:g} requests/s (seed {args.seed})",
        flush=True,
    )
    progress = _Progress(2 * len(load_scenarios), args.duration)
    results: list[ScenarioResult] = []
    started = time.monotonic()
    with running_shop(args.seed) as shop:
        print(f"live dashboard of the seawall gateway: {shop.url('seawall')}/seawall/dashboard")
        for scenario in load_scenarios:
            tick = _Ticker(progress, scenario.name)

            runs = await run_scenario(
                shop, scenario, rate=args.rate, duration=args.duration, progress=tick
            )
            progress.finish_run()
            dashboard = await _dashboard_view(shop.url("seawall"))
            won, why = judge(runs["naive"], runs["seawall"], scenario.verdict_on)
            window = (scenario.window[0] * args.duration, scenario.window[1] * args.duration)
            result = ScenarioResult(
                scenario.name,
                scenario.title,
                scenario.mode,
                scenario.story,
                window,
                runs,
                won,
                why,
                scenario.verdict_on,
                dashboard,
            )
            results.append(result)
            _print_scenario(result)
    split_brain = None
    if "split-brain" in names:
        from seawall.gameday._split_brain import run_split_brain

        split_brain = run_split_brain(seed=args.seed)
        naive, fenced = split_brain.row("naive"), split_brain.row("lease + fencing")
        print("\n== Split brain: two leaders after a partition  [split brain]")
        print("   " + split_brain.table().replace("\n", "\n   "))
        verdict = "seawall wins" if fenced.conflicting < naive.conflicting else "NOT a win"
        print(
            f"   verdict: {verdict} ({naive.conflicting} conflicting writes naive, "
            f"{fenced.conflicting} with lease + fencing)"
        )
    checks = []
    if "operator-error" in names:
        checks = operator_checks(args.seed)
        print("\n== Operator error: checks before deploy  [operator error]")
        for c in checks:
            print(
                f"   {c.name:<44} naive {c.naive_errors} errors, {c.naive_warnings} warnings"
                f" ({', '.join(c.naive_rules)}); seawall {c.seawall_errors} errors,"
                f" {c.seawall_warnings} warnings"
            )
            if c.detail:
                print(f"   {'':<44} {c.detail}")
    meta = {
        "seed": args.seed,
        "duration": args.duration,
        "rate": args.rate,
        "budget_ms": 2000,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    written = write_gameday_report(args.report, results, checks, meta, split_brain)
    wins = sum(r.won for r in results) + sum(c.seawall_errors < c.naive_errors for c in checks)
    total = len(results) + len(checks)
    if split_brain is not None:
        total += 1
        fenced_row, naive_row = split_brain.row("lease + fencing"), split_brain.row("naive")
        wins += fenced_row.conflicting < naive_row.conflicting
    print(f"\nseawall beat naive on {wins} of {total} in {meta['elapsed_s']:.0f} s.")
    print(f"report: {written[0].resolve()}  (also {written[1].name}, {written[2].name})")
    return 1 if args.strict and wins < total else 0


async def _dashboard_view(gateway: str) -> dict[str, Any] | None:
    """The gateway's dashboard as it stands: the first event of its stream holds it all."""
    import httpx

    try:
        async with (
            httpx.AsyncClient(timeout=5.0) as http,
            http.stream("GET", f"{gateway}/seawall/dashboard/stream") as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    view: dict[str, Any] = json.loads(line.removeprefix("data: "))
                    return view
    except (httpx.HTTPError, ValueError):
        pass
    return None


def _main(args: argparse.Namespace) -> int:
    if not 1.0 <= args.duration <= 120.0:
        print("seawall gameday: --duration must be within [1, 120] seconds", file=sys.stderr)
        return 2
    if not 1.0 <= args.rate <= 500.0:
        print("seawall gameday: --rate must be within [1, 500] requests/s", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except ConfigError as exc:
        print(f"seawall gameday: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the shop could not start: say why, no traceback
        print(f"seawall gameday: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nseawall gameday: interrupted; the shop was stopped", file=sys.stderr)
        return 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "gameday",
        help="run the built-in game day (naive vs seawall, one scenario per failure mode)",
        description="Start a small shop on loopback, inject each built-in failure mode for real, "
        "and compare a naive gateway with a seawall one under the same open-loop load.",
    )
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run only this scenario (repeatable); default: all",
    )
    p.add_argument("--duration", type=float, default=8.0, help="seconds per run (default 8)")
    p.add_argument("--rate", type=float, default=60.0, help="requests/s offered (default 60)")
    p.add_argument(
        "--report",
        type=Path,
        default=Path("reports/gameday.html"),
        help="where to write the HTML report (default reports/gameday.html)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strict", action="store_true", help="exit 1 unless seawall wins every one")
    p.set_defaults(func=_main)
