"""Drafting a blameless postmortem from a game day's report (``gameday.json``).

``seawall gameday`` runs each built-in scenario twice under the same fault schedule - the
naive gateway, then the seawall one - and writes what it measured. The draft states only
those numbers: per scenario the side-by-side impact, when each gateway started and stopped
failing requests and whether it recovered, then the split-brain and operator-error steps;
what went well and badly is proposed from the same facts. A report from another version,
or edited by hand, may lack fields or hold odd ones: such a number is unknown ("n/a"),
never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError
from seawall.experiment._postmortem import TODO, blameless_note, judged_sections

__all__ = ["check_gameday_report", "draft_gameday_postmortem", "is_gameday_report"]

SLOW_RECOVERY_S = 2.0  # longer than this to recover after the fault ended went badly


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a number (JSON booleans are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _text(value: Any, default: str) -> str:
    """``value`` as one line of text; ``default`` for anything that is not text or a number."""
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    number = _number(value)
    return default if number is None else _fmt(number)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return ("0" if text == "-0" else text) + unit


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class _Run:
    """One gateway's run of one scenario, as far as the report tells."""

    gateway: str
    scheduled: float | None
    ok: float | None
    success: float | None
    p99_ms: float | None
    amplification: float | None
    duplicates: float | None
    charges: float | None
    recovery_s: float | None
    recovered: bool | None  # False: the report says it never did; None: unknown
    failing: tuple[tuple[float, float, float], ...]  # (second, scheduled, ok) with ok < scheduled
    has_series: bool


def _run(gateway: str, raw: Any) -> _Run:
    fields = raw if isinstance(raw, dict) else {}
    recovery = _number(fields.get("recovery_s"))
    recovered = None
    if recovery is not None:
        recovered = True
    elif "recovery_s" in fields and fields["recovery_s"] is None:
        recovered = False
    series = fields.get("series")
    points = series if isinstance(series, list) else []
    failing = []
    for point in points:
        if isinstance(point, list) and len(point) >= 3:
            second, scheduled, ok = (_number(v) for v in point[:3])
            if second is not None and scheduled is not None and ok is not None and ok < scheduled:
                failing.append((second, scheduled, ok))
    return _Run(
        gateway=gateway,
        scheduled=_number(fields.get("scheduled")),
        ok=_number(fields.get("ok")),
        success=_number(fields.get("success")),
        p99_ms=_number(fields.get("p99_ms")),
        amplification=_number(fields.get("amplification")),
        duplicates=_number(fields.get("duplicates")),
        charges=_number(fields.get("charges")),
        recovery_s=recovery,
        recovered=recovered,
        failing=tuple(sorted(failing)),
        has_series=bool(points),
    )


@dataclass(frozen=True)
class _Scenario:
    title: str
    mode: str
    won: bool | None
    why: str
    window: tuple[float, float] | None
    naive: _Run
    seawall: _Run

    @property
    def runs(self) -> tuple[_Run, _Run]:
        return self.naive, self.seawall


def _scenario(n: int, raw: dict[str, Any]) -> _Scenario:
    window = raw.get("window")
    start = end = None
    if isinstance(window, list) and len(window) == 2:
        start, end = _number(window[0]), _number(window[1])
    runs = _object(raw.get("runs"))
    won = raw.get("won")
    return _Scenario(
        title=_text(raw.get("title"), _text(raw.get("name"), f"scenario {n}")),
        mode=_text(raw.get("mode"), "unknown fault"),
        won=won if isinstance(won, bool) else None,
        why=_text(raw.get("why"), "no reason recorded"),
        window=None if start is None or end is None else (start, end),
        naive=_run("naive", runs.get("naive")),
        seawall=_run("seawall", runs.get("seawall")),
    )


def _window(s: _Scenario) -> str:
    return "n/a" if s.window is None else f"t={_fmt(s.window[0])} s to t={_fmt(s.window[1])} s"


def _recovery(run: _Run) -> str:
    if run.recovered is False:
        return "not recovered"
    return _fmt(run.recovery_s, " s")


def _impact(s: _Scenario) -> list[str]:
    verdict = {True: "seawall won", False: "NOT a seawall win", None: "verdict unknown"}[s.won]
    rows: list[tuple[str, Callable[[_Run], str]]] = [
        ("requests answered ok", lambda r: f"{_fmt(r.ok)} of {_fmt(r.scheduled)}"),
        ("success %", lambda r: _fmt(r.success)),
        ("p99 ms", lambda r: _fmt(r.p99_ms)),
        ("duplicate charges", lambda r: _fmt(r.duplicates)),
        ("downstream calls per request", lambda r: _fmt(r.amplification)),
        ("time to recover", _recovery),
    ]
    lines = [f"### {s.title}", "", f"Verdict: **{verdict}** — {s.why}.", ""]
    lines += ["| metric | naive | seawall |", "|---|---|---|"]
    lines += [
        f"| {name} | {_cell(cell(s.naive))} | {_cell(cell(s.seawall))} |" for name, cell in rows
    ]
    return [*lines, ""]


def _split_brain_impact(split: list[dict[str, Any]]) -> list[str]:
    if not split:
        return []
    lines = ["### Split brain", ""]
    lines.append(
        "| configuration | writes | conflicting writes | seconds with two leaders acting "
        "| rejected (stale token) |"
    )
    lines.append("|---|---|---|---|---|")
    for row in split:
        keys = ("writes", "conflicting", "dual_leader_seconds", "rejected")
        cells = " | ".join(_fmt(_number(row.get(k))) for k in keys)
        lines.append(f"| {_cell(_text(row.get('mode'), '?'))} | {cells} |")
    return [*lines, ""]


def _checks_impact(checks: list[dict[str, Any]]) -> list[str]:
    if not checks:
        return []
    lines = ["### Operator checks before deploy", ""]
    lines += ["| check | naive errors / warnings | seawall errors / warnings | naive rules |"]
    lines.append("|---|---|---|---|")
    for c in checks:
        naive = " / ".join(_fmt(_number(c.get(k))) for k in ("naive_errors", "naive_warnings"))
        ours = " / ".join(_fmt(_number(c.get(k))) for k in ("seawall_errors", "seawall_warnings"))
        name = _cell(_text(c.get("name"), "?"))
        lines.append(f"| {name} | {naive} | {ours} | {_cell(_rules(c))} |")
    return [*lines, ""]


def _timeline(s: _Scenario) -> list[str]:
    events: list[tuple[float, str]] = []
    if s.window is not None:
        events += [(s.window[0], f"fault injected: {s.mode}"), (s.window[1], "fault removed")]
    for run in s.runs:
        name = run.gateway
        if run.failing:
            first, sent, ok = run.failing[0]
            last, last_sent, last_ok = run.failing[-1]
            only = len(run.failing) == 1
            events.append(
                (
                    first,
                    f"{name}: {'the only' if only else 'first'} second with failed requests "
                    f"({_fmt(ok)} of {_fmt(sent)} ok)",
                )
            )
            if not only:
                events.append(
                    (
                        last,
                        f"{name}: last second with failed requests ({_fmt(last_ok)} of "
                        f"{_fmt(last_sent)} ok; {len(run.failing)} such seconds in all)",
                    )
                )
        elif run.has_series:
            events.append((math.inf, f"{name}: no second with failed requests"))
        else:
            events.append((math.inf, f"{name}: no per-second series in the report"))
        if run.recovered is False:
            events.append((math.inf, f"{name}: not recovered when its run ended"))
        elif run.recovery_s is not None and s.window is not None:
            recovered = f"{name}: recovered ({_fmt(run.recovery_s, ' s')} after the fault ended)"
            events.append((s.window[1] + run.recovery_s, recovered))
    events.sort(key=lambda event: event[0])  # stable: the fault comes first at a tie
    lines = [f"### {s.title}", "", "| t (s) | event |", "|---|---|"]
    lines += [f"| {'—' if t == math.inf else _fmt(t)} | {_cell(e)} |" for t, e in events]
    return [*lines, ""]


def _judgement(
    scenarios: list[_Scenario], checks: list[dict[str, Any]], split: list[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    good: list[str] = []
    bad: list[str] = []
    for s in scenarios:
        naive, ours = s.naive, s.seawall
        facts = (
            f"success {_fmt(naive.success, ' %')} naive against {_fmt(ours.success, ' %')} "
            f"seawall, p99 {_fmt(naive.p99_ms, ' ms')} against {_fmt(ours.p99_ms, ' ms')}"
        )
        if s.won:
            good.append(f"**{s.title}**: seawall won — {s.why} ({facts}).")
        elif s.won is False:
            bad.append(f"**{s.title}**: NOT a seawall win — {s.why} ({facts}).")
        if naive.p99_ms is not None and ours.p99_ms is not None and ours.p99_ms > naive.p99_ms:
            ratio = ours.p99_ms / naive.p99_ms if naive.p99_ms > 0 else math.inf
            times = f", {ratio:.1f}x" if math.isfinite(ratio) else ""
            bad.append(
                f"**{s.title}**: seawall's p99 was {_fmt(ours.p99_ms, ' ms')} against naive's "
                f"{_fmt(naive.p99_ms, ' ms')} ({_fmt(ours.p99_ms - naive.p99_ms, ' ms')} "
                f"higher{times})."
            )
        if ours.success is not None and ours.success < 100:
            failed = ""
            if ours.scheduled is not None and ours.ok is not None:
                failed = f" ({_fmt(ours.scheduled - ours.ok)} of {_fmt(ours.scheduled)} failed)"
            bad.append(
                f"**{s.title}**: seawall answered {_fmt(ours.success, ' %')} of requests{failed}."
            )
        for run in s.runs:
            if run.recovered is False:
                bad.append(
                    f"**{s.title}**: the {run.gateway} gateway had not recovered when its run "
                    "ended."
                )
            elif run.recovery_s is not None and run.recovery_s > SLOW_RECOVERY_S:
                bad.append(
                    f"**{s.title}**: the {run.gateway} gateway took {_fmt(run.recovery_s, ' s')} "
                    "after the fault ended to recover."
                )
            if run.duplicates is not None and run.duplicates > 0:
                bad.append(
                    f"**{s.title}**: the {run.gateway} gateway made {_fmt(run.duplicates)} "
                    f"duplicate charge(s) ({_fmt(run.charges)} charges in all)."
                )
    rows = {_text(r.get("mode"), "?"): r for r in split}
    fenced, naive_row = rows.get("lease + fencing"), rows.get("naive")
    naive_conflicts = _number((naive_row or {}).get("conflicting"))
    if fenced is not None and _number(fenced.get("conflicting")) == 0:
        good.append(
            f"Split brain: with lease + fencing, 0 of {_fmt(_number(fenced.get('writes')))} writes "
            f"conflicted ({_fmt(_number(fenced.get('rejected')))} stale-token write(s) rejected), "
            f"against {_fmt(naive_conflicts)} with the naive leader flag."
        )
    for mode, row in rows.items():
        conflicting = _number(row.get("conflicting"))
        if conflicting is None or conflicting <= 0:
            continue
        dual = _fmt(_number(row.get("dual_leader_seconds")), " s")
        writes = _fmt(_number(row.get("writes")))
        what = "the lease without fencing" if mode == "lease" else f"the {mode} configuration"
        bad.append(
            f"Split brain: {what} let {_fmt(conflicting)} conflicting write(s) of {writes} "
            f"through (two leaders acting at once for {dual})."
        )
    for check in checks:
        name = _text(check.get("name"), "?")
        errors, warnings = _number(check.get("naive_errors")), _number(check.get("naive_warnings"))
        ours_e, ours_w = (
            _number(check.get("seawall_errors")),
            _number(check.get("seawall_warnings")),
        )
        if errors is not None and errors > 0:
            good.append(
                f"`{name}` caught the naive configuration before deploy: {_fmt(errors)} error(s), "
                f"{_fmt(warnings)} warning(s) ({_rules(check)}); seawall's had "
                f"{_fmt(ours_e)} error(s)."
            )
        if (ours_e or 0) > 0 or (ours_w or 0) > 0:
            bad.append(
                f"`{name}` found {_fmt(ours_e)} error(s) and {_fmt(ours_w)} warning(s) in "
                "seawall's own configuration."
            )
    return good, bad


def _rules(check: dict[str, Any]) -> str:
    rules = check.get("naive_rules")
    names = [_text(r, "?") for r in rules] if isinstance(rules, list) else []
    return ", ".join(names) or "no rules named"


def is_gameday_report(document: Any) -> bool:
    """Whether ``document`` is shaped like ``seawall gameday``'s JSON report."""
    return isinstance(document, dict) and "meta" in document and "scenarios" in document


def check_gameday_report(document: Any, source: str) -> dict[str, Any]:
    """``document`` if its top level is a game-day report's; raises :class:`ConfigError`."""
    if not is_gameday_report(document):
        raise ConfigError(f"{source}: a game-day report has 'meta' and 'scenarios' fields")
    shapes: dict[str, tuple[type, ...]] = {"meta": (dict,), "scenarios": (list,)}
    shapes |= {"operator_checks": (list, type(None)), "split_brain": (list, type(None))}
    for key, kinds in shapes.items():
        if key in document and not isinstance(document[key], kinds):
            kind = "an object" if kinds[0] is dict else "a list"
            raise ConfigError(f"{source}: game-day report field {key!r} must be {kind}")
    return dict(document)


def draft_gameday_postmortem(report: dict[str, Any], report_path: str = "gameday.json") -> str:
    """A blameless postmortem draft in Markdown from a game day's JSON report."""
    meta = _object(report.get("meta"))
    scenarios = [_scenario(n, raw) for n, raw in enumerate(_dicts(report.get("scenarios")), 1)]
    checks, split = _dicts(report.get("operator_checks")), _dicts(report.get("split_brain"))
    seed = _text(meta.get("seed"), "n/a")
    duration, rate = _number(meta.get("duration")), _number(meta.get("rate"))
    budget, elapsed = _number(meta.get("budget_ms")), _number(meta.get("elapsed_s"))
    won = sum(s.won is True for s in scenarios)
    lines = [
        f"# Postmortem (draft): seawall game day (seed {seed})",
        "",
        blameless_note(report_path),
        "",
        "## Summary",
        "",
        f"The game day (seed {seed}) ran {len(scenarios)} load scenario(s), each twice under "
        "the same fault schedule - the naive gateway, then the seawall gateway - for "
        f"{_fmt(duration, ' s')} per run at {_fmt(rate)} requests/s with a "
        f"{_fmt(budget, ' ms')} budget per request. Seawall won **{won} of {len(scenarios)}** "
        f"scenario(s). Split brain was replayed in {len(split)} configuration(s) and "
        f"{len(checks)} operator check(s) ran before deploy. The whole game day took "
        f"{_fmt(elapsed, ' s')}.",
        "",
        "## Impact",
        "",
        "Per scenario, naive against seawall over the whole run.",
        "",
    ]
    for s in scenarios:
        lines += _impact(s)
    if not scenarios:
        lines += ["No load scenario is in the report.", ""]
    lines += _split_brain_impact(split) + _checks_impact(checks)
    lines += ["- Customer impact: " + TODO, "", "## Timeline", ""]
    lines += [
        "t is seconds since the start of each run; a scenario's naive and seawall runs went "
        "one after the other under the same fault schedule. A second failed requests when "
        "fewer were answered ok than were scheduled. A gateway recovered at the fault's end "
        "plus its time to recover as the report measured it (nearly every request ok in each "
        "later second), so a later second may still have failed a few.",
        "",
    ]
    for s in scenarios:
        lines += _timeline(s)
    lines += ["## Trigger", ""]
    lines += [
        f"- **{s.title}** (`{s.mode}`): injected from {_window(s)} of each run." for s in scenarios
    ]
    if split:
        modes = ", ".join(_text(r.get("mode"), "?") for r in split)
        lines.append(f"- Split brain: a partition between would-be leaders, replayed with {modes}.")
    if checks:
        lines.append("- Operator error: the naive configuration, checked before deploy.")
    if not scenarios and not split and not checks:
        lines.append("No fault is in the report; " + TODO + ": what ran?")
    good, bad = _judgement(scenarios, checks, split)
    lines += ["", *judged_sections(good, bad)]
    lines += ["", "## Supporting data", "", f"- Game-day report: `{report_path}`"]
    stem = Path(report_path).stem
    if stem:
        lines.append(
            f"- The same run as pages: `{stem}.md` and `{stem}.html`, written beside it by "
            "`seawall gameday`."
        )
    seed_value = meta.get("seed")
    if duration is not None and rate is not None and type(seed_value) is int:
        lines.append(
            f"- Re-run: `seawall gameday --seed {seed_value} --duration {_fmt(duration)} "
            f"--rate {_fmt(rate)}`"
        )
    return "\n".join(lines) + "\n"
