"""Running an experiment: hypothesis, method, hypothesis again, and rollbacks - always.

The order is Chaos Toolkit's: check the steady-state hypothesis; if it holds, run the
method (background activities in threads); check the hypothesis again; the run
*deviated* when it no longer holds. Rollbacks run in a ``finally``: after success, after
a deviation, after an error, and after Ctrl-C (``KeyboardInterrupt``), in which case the
background activities are told to stop first. Whatever the run started (processes, CPU
burners, fill files) is stopped or removed at the very end.

Status, and the CLI's exit code: ``completed`` (0); ``deviated`` (1); ``failed`` (1) when
the hypothesis did not hold before the method, or a method *action* failed - a fault that
was never injected proves nothing, so the method stops there; ``interrupted`` (130).
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall.experiment._context import DEFAULT_CONTROL_URL, ActivityFailed, RunContext, iso
from seawall.experiment._experiment import Activity, Experiment
from seawall.experiment._journal import JOURNAL_VERSION, jsonable
from seawall.experiment._tolerance import within_tolerance

__all__ = ["EXIT_CODES", "Runner", "run_experiment"]

EXIT_CODES = {"completed": 0, "deviated": 1, "failed": 1, "interrupted": 130}
_JOIN_AFTER_STOP = 15.0


class Runner:
    """Runs one :class:`Experiment` and returns its journal (a JSON-shaped dict)."""

    def __init__(
        self,
        experiment: Experiment,
        *,
        clock: Clock = SYSTEM_CLOCK,
        wall: Callable[[], float] = time.time,
        control_url: str = DEFAULT_CONTROL_URL,
        workdir: Path | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.experiment = experiment
        self.ctx = RunContext(clock=clock, wall=wall, control_url=control_url, workdir=workdir)
        self._log = log or (lambda _line: None)
        self._lock = threading.Lock()
        self._background: list[threading.Thread] = []
        self.method_runs: list[dict[str, Any]] = []
        self.rollback_runs: list[dict[str, Any]] = []

    # -- one activity -----------------------------------------------------------------

    def run_activity(
        self, activity: Activity, phase: str, sink: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Run one activity; its record joins ``sink`` first, so an interrupted one shows."""
        ctx = self.ctx
        record: dict[str, Any] = {
            "activity": activity.definition,
            "name": activity.name,
            "type": activity.type,
            "phase": phase,
            "provider": activity.provider_type,
            "description": activity.provider.describe(),
            "status": "running",
            "output": None,
            "error": None,
        }
        with self._lock:
            sink.append(record)
        try:
            if activity.pause_before and not ctx.wait(activity.pause_before):
                record["status"] = "skipped"
                return record
            record["t_start"], record["start"] = ctx.elapsed(), iso(ctx.wall())
            ctx.event("activity-start", f"{phase}: {activity.type} {activity.name!r} started")
            try:
                record["output"] = jsonable(activity.provider.run(ctx))
                record["status"] = "succeeded"
            except ActivityFailed as exc:
                record["status"], record["error"] = "failed", str(exc)
            except Exception as exc:  # a provider's bug or a python probe's exception
                record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"
            self._finish(record, activity)
            if activity.pause_after:
                ctx.wait(activity.pause_after)
        except KeyboardInterrupt:
            if "t_end" in record:  # it ran to the end; only its pause after was cut
                record["pause_interrupted"] = True
            else:
                record["status"], record["error"] = "interrupted", "interrupted (Ctrl-C)"
                if "t_start" in record:
                    self._finish(record, activity)
            raise
        return record

    def _finish(self, record: dict[str, Any], activity: Activity) -> None:
        ctx = self.ctx
        record["t_end"], record["end"] = ctx.elapsed(), iso(ctx.wall())
        record["duration"] = round(record["t_end"] - record["t_start"], 6)
        if activity.tolerance is not None and record["status"] == "succeeded":
            met, reason = within_tolerance(activity.tolerance, record["output"])
            record["tolerance"], record["tolerance_met"] = activity.tolerance, met
            record["tolerance_reason"] = reason
        outcome = record["status"]
        if record.get("tolerance_met") is False:
            outcome += ", outside tolerance"
        message = f"{record['phase']}: {activity.type} {activity.name!r} {outcome}"
        if record["error"]:
            message += f": {record['error']}"
        ctx.event("activity-end", message, status=record["status"])
        self._log(f"  [{record['phase']}] {activity.name}: {outcome}")

    # -- phases -----------------------------------------------------------------------

    def check_hypothesis(self, phase: str) -> dict[str, Any] | None:
        hypothesis = self.experiment.hypothesis
        if hypothesis is None:
            return None
        self._log(f"steady-state hypothesis ({phase}): {hypothesis.title}")
        state: dict[str, Any] = {"steady_state_met": True, "probes": []}
        for probe in hypothesis.probes:
            record = self.run_activity(probe, phase, state["probes"])
            record.setdefault("tolerance_met", False)
            if record["status"] != "succeeded" or not record["tolerance_met"]:
                state["steady_state_met"] = False
                break  # as Chaos Toolkit: the first probe out of tolerance decides
        met = state["steady_state_met"]
        self.ctx.event("hypothesis", f"hypothesis {phase}: {'met' if met else 'NOT met'}")
        return state

    def _run_background(self, activity: Activity) -> None:
        def target() -> None:
            self.run_activity(activity, "method", self.method_runs)

        thread = threading.Thread(target=target, name=f"activity:{activity.name}", daemon=True)
        self._background.append(thread)
        thread.start()

    def run_method(self) -> dict[str, Any] | None:
        """Run the method; the failed action that stopped it, if one did."""
        self.ctx.event("method", "method started")
        failed = None
        for activity in self.experiment.method:
            if activity.background:
                self._run_background(activity)
                continue
            record = self.run_activity(activity, "method", self.method_runs)
            if record["status"] == "failed" and activity.type == "action":
                failed = record
                break
        self._join_background(timeout=None)
        self.ctx.event("method", "method ended")
        return failed

    def _join_background(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._background:
            # joined in slices: a blocking join would hold off Ctrl-C on some platforms
            while thread.is_alive():
                if deadline is not None and time.monotonic() > deadline:
                    break
                thread.join(0.1)

    def run_rollbacks(self) -> None:
        rollbacks = self.experiment.rollbacks
        if not rollbacks:
            return
        self._log("rollbacks")
        self.ctx.event("rollbacks", "rollbacks started")
        self.ctx.exempt_current_thread()
        for activity in rollbacks:
            # Each rollback still gets its chance: a second Ctrl-C cuts one, not all.
            with contextlib.suppress(KeyboardInterrupt):
                self.run_activity(activity, "rollback", self.rollback_runs)
        self.ctx.event("rollbacks", "rollbacks ended")

    # -- the whole run ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        exp = self.experiment
        started_at = ctx.wall()
        ctx.event("experiment-start", f"experiment {exp.title!r} started")
        self._log(f"experiment: {exp.title}")
        status, error = "failed", None
        before = after = None
        try:
            before = self.check_hypothesis("before")
            if before is not None and not before["steady_state_met"]:
                error = "the steady-state hypothesis did not hold before the method"
            else:
                failed = self.run_method()
                if failed is not None:
                    error = f"method action {failed['name']!r} failed: {failed['error']}"
                else:
                    after = self.check_hypothesis("after")
                    status = "deviated" if after and not after["steady_state_met"] else "completed"
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted (Ctrl-C or SIGTERM)"
            ctx.event("interrupted", "run interrupted; stopping background activities")
            self._log("interrupted: stopping background activities, then rolling back")
        except Exception as exc:  # a runner bug must still roll back and leave a journal
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            ctx.stop.set()
            with contextlib.suppress(KeyboardInterrupt):  # a 2nd Ctrl-C: still roll back
                self._join_background(timeout=_JOIN_AFTER_STOP)
            self.run_rollbacks()
            cleaned = ctx.cleanup()
            ctx.close_faults()
        ended_at = ctx.wall()
        ctx.event("experiment-end", f"experiment ended: {status}")
        self._log(f"status: {status}")
        return {
            "seawall_journal": JOURNAL_VERSION,
            "experiment": exp.definition,
            "title": exp.title,
            "description": exp.description,
            "source": exp.source,
            "status": status,
            "deviated": status == "deviated",
            "error": error,
            "start": iso(started_at),
            "end": iso(ended_at),
            "duration": round(ended_at - started_at, 6),
            "steady_states": {"before": before, "after": after},
            "run": sorted(self.method_runs, key=lambda r: r.get("t_start", 0.0)),
            "rollbacks": self.rollback_runs,
            "fault_windows": ctx.fault_windows,
            "load": ctx.load_runs,
            "events": ctx.events,
            "cleanup": cleaned,
            "platform": {
                "python": platform.python_version(),
                "system": platform.platform(),
                "node": platform.node(),
                "pid": os.getpid(),
            },
        }


def run_experiment(experiment: Experiment, **options: Any) -> dict[str, Any]:
    """Run ``experiment`` (see :class:`Runner` for options); returns the journal."""
    return Runner(experiment, **options).run()
