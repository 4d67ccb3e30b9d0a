"""Drafting a blameless postmortem from a journal - seawall's or ``chaos run``'s.

The draft fills in what the journal *measured* - the summary, the impact in numbers
(requests, errors, latency during the fault windows against the seconds before them), the
timeline and the trigger - and proposes what went well and badly from the same facts.
Action items are placeholders on purpose: deciding them is the humans' part.

A Chaos Toolkit journal says less, and says it differently; the draft reads it on its own
terms: a deviation is ``status: completed`` with ``deviated: true``, names sit under
``activity.name``, errors are ``exception`` lists, the timeline is the activities' own
start and end times, the faults are the method's actions. Rollbacks the experiment
declared but the journal does not show ran were skipped (chaos's default strategy skips
them after a failed run), and the draft says so: the faults may still be in place. It
says the run left nothing behind only when every declared rollback ran and succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seawall.experiment._journal import (
    activity_error,
    activity_name,
    declared_rollbacks,
    injected_faults,
    outcome,
    skipped_rollbacks,
    timeline,
)
from seawall.experiment._load import percentile

__all__ = [
    "TODO",
    "Impact",
    "blameless_note",
    "draft_postmortem",
    "judged_sections",
    "measure_impact",
]

TODO = "_TODO_"


@dataclass(frozen=True)
class Impact:
    """Load measured during fault windows and outside them, per load run."""

    name: str
    requests: int
    errors: int
    fault_requests: int
    fault_errors: int
    baseline_p99_ms: float | None
    fault_p99_ms: float | None
    worst_p99_ms: float
    error_seconds: int
    first_error_t: float | None
    last_error_t: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def fault_error_rate(self) -> float:
        return self.fault_errors / self.fault_requests if self.fault_requests else 0.0


def _windows(journal: dict[str, Any]) -> list[tuple[float, float]]:
    end = float(journal.get("duration") or 0.0) or float("inf")
    spans = []
    for window in journal.get("fault_windows", []):
        start = float(window.get("start") or 0.0)
        stop = window.get("end")
        spans.append((start, end if stop is None else float(stop)))
    return spans


def measure_impact(journal: dict[str, Any]) -> list[Impact]:
    """Per load run: totals, and what happened in the seconds a fault was active."""
    spans = _windows(journal)
    first_fault = min((s for s, _ in spans), default=float("inf"))
    impacts = []
    for run in journal.get("load", []):
        series = run.get("series") or []
        offset = float(run.get("start") or 0.0)
        during, baseline, worst = [], [], 0.0
        fault_requests = fault_errors = error_seconds = 0
        first_error = last_error = None
        for point in series:
            t = offset + float(point.get("t", 0))
            p99 = float(point.get("p99_ms") or 0.0)
            worst = max(worst, p99)
            errors = int(point.get("errors") or 0)
            if errors:
                error_seconds += 1
                first_error = t if first_error is None else first_error
                last_error = t + 1
            middle = t + 0.5  # a second counts as "during" when a fault covered its middle
            if any(start <= middle < stop for start, stop in spans):
                fault_requests += int(point.get("requests") or 0)
                fault_errors += errors
                if point.get("ok"):
                    during.append(p99)
            elif middle < first_fault and point.get("ok"):
                baseline.append(p99)
        summary = run.get("summary") or {}
        impacts.append(
            Impact(
                name=str(run.get("name", run.get("url", "load"))),
                requests=int(summary.get("requests") or 0),
                errors=int(summary.get("errors") or 0),
                fault_requests=fault_requests,
                fault_errors=fault_errors,
                baseline_p99_ms=percentile(sorted(baseline), 50) if baseline else None,
                fault_p99_ms=max(during) if during else None,
                worst_p99_ms=worst,
                error_seconds=error_seconds,
                first_error_t=first_error,
                last_error_t=last_error,
            )
        )
    return impacts


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _all_runs(journal: dict[str, Any]) -> list[dict[str, Any]]:
    states = journal.get("steady_states") or {}
    runs: list[dict[str, Any]] = []
    for key in ("before", "after"):
        runs += (states.get(key) or {}).get("probes", [])
    runs += journal.get("run", []) + journal.get("rollbacks", [])
    return runs


def _judgement(journal: dict[str, Any], impacts: list[Impact]) -> tuple[list[str], list[str]]:
    good: list[str] = []
    bad: list[str] = []
    status = outcome(journal)
    states = journal.get("steady_states") or {}
    before, after = states.get("before"), states.get("after")
    if before and before.get("steady_state_met"):
        good.append("The system was in its steady state before the faults.")
    elif before:
        bad.append(
            "The system was not in its steady state before the faults; the method never ran."
        )
    for probe in (before or {}).get("probes", []):
        if _out_of_tolerance(probe):
            bad.append(f"Probe `{activity_name(probe)}` failed before the faults: {_why(probe)}.")
    if after and after.get("steady_state_met"):
        good.append("The steady-state hypothesis still held after the faults.")
    for probe in (after or {}).get("probes", []):
        if _out_of_tolerance(probe):
            bad.append(
                f"Probe `{activity_name(probe)}` was out of tolerance afterwards: {_why(probe)}."
            )
    for during in (states.get("during") or [])[:3]:
        for probe in (during or {}).get("probes", []):
            if _out_of_tolerance(probe):
                bad.append(
                    f"Probe `{activity_name(probe)}` was out of tolerance during the method: "
                    f"{_why(probe)}."
                )
    for run in journal.get("run", []):
        if run.get("status") == "failed":
            bad.append(f"Method activity `{activity_name(run)}` failed: {activity_error(run)}.")
    rollbacks = journal.get("rollbacks", [])
    failed_rollbacks = [r for r in rollbacks if r.get("status") != "succeeded"]
    skipped = skipped_rollbacks(journal)
    if rollbacks and not failed_rollbacks:
        which = "that ran " if skipped else "ran and "
        good.append(f"All {len(rollbacks)} rollback(s) {which}succeeded.")
    for r in failed_rollbacks:
        why = activity_error(r) or ""
        bad.append(f"Rollback `{activity_name(r)}` {r.get('status')}: {why}".strip())
    faults = injected_faults(journal)
    if skipped:
        why = journal.get("rollbacks_skipped") or (
            f"the run ended {status} and the rollback strategy skips rollbacks then"
        )
        bad.append(
            f"Rollback(s) {', '.join(f'`{n}`' for n in skipped)} never ran ({why}): "
            "what the method changed may still be in place."
        )
    elif faults and not declared_rollbacks(journal):
        bad.append(
            "No rollback was declared: what the method changed "
            f"({', '.join(faults)}) may still be in place."
        )
    if journal.get("cleanup"):
        bad.append("The run had to clean up after itself: " + "; ".join(journal["cleanup"]) + ".")
    elif (
        status != "interrupted"
        and not skipped
        and not failed_rollbacks
        and (rollbacks or not faults)
    ):
        good.append("The run left nothing running or filled behind.")
    windows_end = max((e for _, e in _windows(journal) if e != float("inf")), default=None)
    for impact in impacts:
        rate = impact.fault_error_rate
        if impact.fault_requests and rate < 0.01:
            good.append(f"`{impact.name}`: errors stayed below 1 % during the faults ({rate:.2%}).")
        elif impact.fault_requests:
            bad.append(f"`{impact.name}`: {rate:.1%} of requests failed during the faults.")
        base, worst = impact.baseline_p99_ms, impact.fault_p99_ms
        if base and worst and worst > 2 * base:
            bad.append(
                f"`{impact.name}`: p99 latency rose {worst / base:.0f}x during the faults "
                f"({base:.1f} ms to {worst:.1f} ms)."
            )
        if windows_end is not None and impact.last_error_t is not None:
            tail = impact.last_error_t - windows_end
            if tail > 2:
                bad.append(
                    f"`{impact.name}`: errors went on {tail:.0f} s after the last fault ended."
                )
            else:
                good.append(f"`{impact.name}`: errors stopped within 2 s of the last fault ending.")
    if status == "interrupted":
        bad.append("The run was interrupted before it finished; its evidence is partial.")
    return good, bad


def _out_of_tolerance(probe: dict[str, Any]) -> bool:
    return probe.get("tolerance_met") is False or probe.get("status") != "succeeded"


def _why(probe: dict[str, Any]) -> str:
    error = activity_error(probe)
    if error:
        return error
    if probe.get("tolerance_reason"):
        return str(probe["tolerance_reason"])
    tolerance = probe.get("tolerance", (probe.get("activity") or {}).get("tolerance"))
    if probe.get("status") == "succeeded":
        return f"output {_short(probe.get('output'))} is outside tolerance {_short(tolerance)}"
    return str(probe.get("status"))


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def blameless_note(source: str) -> str:
    """The preamble every draft opens with; ``source`` is the file it was drafted from."""
    return (
        "> Blameless: this describes what the system and the process did, not who did what. "
        f"Drafted by seawall from `{source}`; every `{TODO}` is for the team to fill."
    )


def judged_sections(good: list[str], bad: list[str]) -> list[str]:
    """What went well and badly, and one placeholder action item per thing that went badly."""
    lines = ["## What went well", ""]
    lines += [f"- {item}" for item in good] or ["- " + TODO]
    lines += ["", "## What went badly", ""]
    lines += [f"- {item}" for item in bad] or ["- Nothing measured went badly. " + TODO]
    lines += ["", "## Action items", "", "| # | action | owner | priority | ticket |"]
    lines.append("|---|---|---|---|---|")
    seeds = bad or ["(none proposed)"]
    for n, item in enumerate(seeds, 1):
        short = item if len(item) <= 90 else item[:87] + "..."
        short = short.replace("|", "/").replace("\n", " ")
        lines.append(f"| {n} | {TODO}: address — {short} | {TODO} | {TODO} | {TODO} |")
    return lines


def draft_postmortem(journal: dict[str, Any], journal_path: str = "journal.json") -> str:
    """A blameless postmortem draft in Markdown."""
    title = str(journal.get("title") or (journal.get("experiment") or {}).get("title", "?"))
    status = outcome(journal)
    recorded = f"`status: {journal.get('status')}`, `deviated: {bool(journal.get('deviated'))}`"
    impacts = measure_impact(journal)
    windows = journal.get("fault_windows", [])
    good, bad = _judgement(journal, impacts)
    lines = [
        f"# Postmortem (draft): {title}",
        "",
        blameless_note(journal_path),
        "",
        "## Summary",
        "",
    ]
    started = str(journal.get("start", "?"))
    duration = float(journal.get("duration") or 0.0)
    faults = "; ".join(injected_faults(journal)) or "no fault"
    lines.append(
        f"On {started[:10]} at {started[11:19]} UTC the game-day experiment **{title}** ran for "
        f"{duration:.1f} s and ended **{status}** (journal: {recorded}). It injected: {faults}."
    )
    if journal.get("error"):
        lines.append(f"Reason recorded: {journal['error']}.")
    lines += ["", "## Impact", ""]
    if not impacts:
        lines.append("No load was generated, so impact is known only from the probes below.")
    for i in impacts:
        lines += [
            f"- **{i.name}**: {i.requests} requests, {i.errors} failed ({i.error_rate:.2%}); "
            f"during faults {i.fault_errors} of {i.fault_requests} failed "
            f"({i.fault_error_rate:.2%}).",
            f"  - p99 latency: {_ms(i.baseline_p99_ms)} before the faults, "
            f"{_ms(i.fault_p99_ms)} at worst during them (worst second overall "
            f"{i.worst_p99_ms:.1f} ms).",
            f"  - {i.error_seconds} second(s) with errors"
            + (
                f", from t={i.first_error_t:.0f} s to t={i.last_error_t:.0f} s."
                if i.first_error_t is not None and i.last_error_t is not None
                else "."
            ),
        ]
    lines += ["- Customer impact: " + TODO, "", "## Timeline", "", "All times UTC.", ""]
    lines += ["| time | t (s) | event |", "|---|---|---|"]
    for at, t, message in timeline(journal):
        message = message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {at} | {t:.3f} | {message} |")
    lines += ["", "## Trigger", ""]
    if windows:
        for w in windows:
            end = w.get("end")
            until = f"t={float(end):.1f} s" if end is not None else "the end of the run"
            lines.append(
                f"- {w.get('label')} (`{w.get('kind')}`), from t={float(w.get('start', 0)):.1f} s "
                f"until {until}."
            )
    elif injected_faults(journal):
        lines += [f"- The method's action {fault}." for fault in injected_faults(journal)]
    else:
        lines.append("No fault window was recorded; " + TODO + ": what changed?")
    lines += ["", *judged_sections(good, bad)]
    lines += ["", "## Supporting data", "", f"- Journal: `{journal_path}`"]
    lines.append(f"- Experiment file: `{journal.get('source', '?')}`")
    failed = [r for r in _all_runs(journal) if r.get("status") not in ("succeeded", None)]
    lines.append(f"- Activities not succeeded: {len(failed)}")
    return "\n".join(lines) + "\n"
