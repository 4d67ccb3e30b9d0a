"""Running an experiment: hypothesis, method, hypothesis again, and rollbacks.

The order is Chaos Toolkit's: check the steady-state hypothesis; if it holds, run the
method (background activities in threads); check the hypothesis again; the run
*deviated* when it no longer holds. ``runtime.hypothesis.strategy`` may skip a check or
add checks during the method. Rollbacks run in a ``finally``: after success, after a
deviation, after an error, and after Ctrl-C (``KeyboardInterrupt``), in which case the
background activities are told to stop first - unless ``runtime.rollbacks.strategy``
says otherwise, in which case the journal says they were skipped and why. Whatever the
run started (processes, CPU burners, fill files) is stopped or removed at the very end.

The outcome, and the CLI's exit code: ``completed`` (0); ``deviated`` (1); ``failed`` (1)
when the hypothesis did not hold before the method, or a method *action* failed - a fault
that was never injected proves nothing, so the method stops there; ``interrupted`` (130).
The journal states it in Chaos Toolkit's terms, so its tools read it: a deviation is
``status: completed`` with ``deviated: true`` (:func:`~seawall.experiment.outcome`).
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
from seawall.experiment._controls import Controls
from seawall.experiment._experiment import Activity, Experiment
from seawall.experiment._journal import JOURNAL_VERSION, jsonable, redact, seawall_version
from seawall.experiment._sections import ControlSpec
from seawall.experiment._tolerance import within_tolerance

__all__ = ["EXIT_CODES", "Runner", "run_experiment"]

EXIT_CODES = {"completed": 0, "deviated": 1, "failed": 1, "interrupted": 130}
_JOIN_AFTER_STOP = 15.0


class Runner:
    """Runs one :class:`Experiment` and returns its journal (a JSON-shaped dict).

    ``log`` receives progress lines; ``warn`` receives what a person must see even when
    progress is off - a probe's or action's failure and its reason, a missing control
    (defaults to ``log``).
    """

    def __init__(
        self,
        experiment: Experiment,
        *,
        clock: Clock = SYSTEM_CLOCK,
        wall: Callable[[], float] = time.time,
        control_url: str = DEFAULT_CONTROL_URL,
        workdir: Path | None = None,
        log: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.experiment = experiment
        self.ctx = RunContext(
            clock=clock,
            wall=wall,
            control_url=control_url,
            workdir=workdir,
            configuration=dict(experiment.configuration),
            secrets={k: dict(v) for k, v in experiment.secrets.items()},
        )
        self._log = log or (lambda _line: None)
        self._warn = warn or self._log
        self._lock = threading.Lock()
        self._background: list[threading.Thread] = []
        self.method_runs: list[dict[str, Any]] = []
        self.rollback_runs: list[dict[str, Any]] = []
        self.during: list[dict[str, Any]] = []
        self._method_done = threading.Event()
        self._fail_fast = threading.Event()
        self.rollbacks_skipped: str | None = None
        self._local: dict[int, Controls] = {}
        self.controls = Controls(
            experiment.controls,
            experiment.definition,
            self.ctx.configuration,
            self.ctx.secrets,
            self._control_warning,
        )

    def _scoped(self, specs: tuple[ControlSpec, ...]) -> list[Controls]:
        """The experiment's controls, then those declared on the activity or hypothesis."""
        if not specs:
            return [self.controls]
        with self._lock:
            local = self._local.get(id(specs))  # arguments may be unhashable
            if local is None:
                local = Controls(
                    specs,
                    self.experiment.definition,
                    self.ctx.configuration,
                    self.ctx.secrets,
                    self._control_warning,
                )
                self._local[id(specs)] = local
        return [self.controls, local]

    def _control_warning(self, message: str) -> None:
        self.ctx.event("control", message)
        self._warn(f"warning: {message}")

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
            scoped = self._scoped(activity.controls)
            for controls in scoped:
                controls.before("activity", activity.definition)
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
            for controls in scoped:
                controls.after("activity", activity.definition, record)
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
            met, reason = within_tolerance(
                activity.tolerance, record["output"], ctx.configuration, ctx.secrets
            )
            record["tolerance"], record["tolerance_met"] = activity.tolerance, met
            record["tolerance_reason"] = reason
        if record["error"]:  # where Chaos Toolkit's tools look for why an activity failed
            record["exception"] = [f"{record['error']}\n"]
        outcome = record["status"]
        if record.get("tolerance_met") is False:
            outcome += ", outside tolerance"
        message = f"{record['phase']}: {activity.type} {activity.name!r} {outcome}"
        if record["error"]:
            message += f": {record['error']}"
        ctx.event("activity-end", message, status=record["status"])
        if record["error"]:  # the reason must reach the person running it, not only the journal
            self._warn(f"  [{record['phase']}] {activity.name}: {outcome}: {record['error']}")
        elif record.get("tolerance_met") is False:
            reason = record["tolerance_reason"]
            self._warn(f"  [{record['phase']}] {activity.name}: {outcome}: {reason}")
        else:
            self._log(f"  [{record['phase']}] {activity.name}: {outcome}")

    # -- phases -----------------------------------------------------------------------

    def check_hypothesis(self, phase: str) -> dict[str, Any] | None:
        hypothesis = self.experiment.hypothesis
        if hypothesis is None:
            return None
        self._log(f"steady-state hypothesis ({phase}): {hypothesis.title}")
        state: dict[str, Any] = {"steady_state_met": True, "probes": []}
        context = self.experiment.definition.get("steady-state-hypothesis")
        scoped = self._scoped(hypothesis.controls)
        for controls in scoped:
            controls.before("hypothesis", context)
        for probe in hypothesis.probes:
            record = self.run_activity(probe, phase, state["probes"])
            record.setdefault("tolerance_met", False)
            if record["status"] != "succeeded" or not record["tolerance_met"]:
                state["steady_state_met"] = False
                break  # as Chaos Toolkit: the first probe out of tolerance decides
        met = state["steady_state_met"]
        self.ctx.event("hypothesis", f"hypothesis {phase}: {'met' if met else 'NOT met'}")
        for controls in scoped:
            controls.after("hypothesis", context, state)
        return state

    def _check_during(self) -> None:
        """Re-check the hypothesis every ``frequency`` seconds until the method ends."""
        runtime = self.experiment.runtime
        while not self._method_done.is_set() and not self.ctx.stopped():
            state = self.check_hypothesis("during")
            if state is not None:
                with self._lock:
                    self.during.append(state)
                if not state["steady_state_met"] and runtime.fail_fast:
                    self._fail_fast.set()
                    self.ctx.stop.set()  # cut the method's pauses and background activities
                    return
            if not self.ctx.wait(runtime.frequency):
                return

    def _run_background(self, activity: Activity) -> None:
        def target() -> None:
            self.run_activity(activity, "method", self.method_runs)

        thread = threading.Thread(target=target, name=f"activity:{activity.name}", daemon=True)
        self._background.append(thread)
        thread.start()

    def run_method(self) -> dict[str, Any] | None:
        """Run the method; the failed action that stopped it, if one did."""
        self.ctx.event("method", "method started")
        self.controls.before("method", self.experiment.definition.get("method"))
        failed = None
        checker = None
        if self.experiment.runtime.during and self.experiment.hypothesis is not None:
            checker = threading.Thread(target=self._check_during, name="hypothesis", daemon=True)
            checker.start()
        for activity in self.experiment.method:
            if self._fail_fast.is_set():
                break
            if activity.background:
                self._run_background(activity)
                continue
            record = self.run_activity(activity, "method", self.method_runs)
            if record["status"] == "failed" and activity.type == "action":
                failed = record
                break
        self._join_background(timeout=None)
        self._method_done.set()
        if checker is not None:
            while checker.is_alive():
                checker.join(0.1)
        self.ctx.event("method", "method ended")
        self.controls.after("method", self.experiment.definition.get("method"), self.method_runs)
        return failed

    def _join_background(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._background:
            # joined in slices: a blocking join would hold off Ctrl-C on some platforms
            while thread.is_alive():
                if deadline is not None and time.monotonic() > deadline:
                    break
                thread.join(0.1)

    def _skip_rollbacks(self, status: str) -> str | None:
        """Why ``runtime.rollbacks.strategy`` skips the rollbacks after ``status``, if it does."""
        strategy = self.experiment.runtime.rollbacks
        if strategy == "never":
            return "runtime.rollbacks.strategy is 'never'"
        if strategy == "default" and status in ("failed", "interrupted"):
            return f"the run {status} and runtime.rollbacks.strategy is 'default'"
        if strategy == "deviated" and status != "deviated":
            return "the run did not deviate and runtime.rollbacks.strategy is 'deviated'"
        return None

    def run_rollbacks(self, status: str = "completed") -> None:
        rollbacks = self.experiment.rollbacks
        if not rollbacks:
            return
        skipped = self._skip_rollbacks(status)
        if skipped is not None:
            self.rollbacks_skipped = skipped
            self.ctx.event("rollbacks", f"rollbacks skipped: {skipped}")
            self._warn(f"rollbacks skipped: {skipped}")
            return
        self._log("rollbacks")
        self.ctx.event("rollbacks", "rollbacks started")
        self.ctx.exempt_current_thread()
        context = self.experiment.definition.get("rollbacks")
        self.controls.before("rollback", context)
        for activity in rollbacks:
            # Each rollback still gets its chance: a second Ctrl-C cuts one, not all.
            with contextlib.suppress(KeyboardInterrupt):
                self.run_activity(activity, "rollback", self.rollback_runs)
        self.controls.after("rollback", context, self.rollback_runs)
        self.ctx.event("rollbacks", "rollbacks ended")

    # -- the whole run ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        exp = self.experiment
        runtime = exp.runtime
        started_at = ctx.wall()
        ctx.event("experiment-start", f"experiment {exp.title!r} started")
        self._log(f"experiment: {exp.title}")
        status, error = "failed", None
        before = after = None
        try:
            self.controls.configure()
            self.controls.before("experiment", exp.definition)
            before = self.check_hypothesis("before") if runtime.before else None
            if before is not None and not before["steady_state_met"]:
                error = "the steady-state hypothesis did not hold before the method"
            else:
                failed = self.run_method()
                if failed is not None:
                    error = f"method action {failed['name']!r} failed: {failed['error']}"
                elif self._fail_fast.is_set():
                    status = "deviated"
                    error = "the steady-state hypothesis failed during the method (fail_fast)"
                else:
                    after = self.check_hypothesis("after") if runtime.after else None
                    during_failed = any(not s["steady_state_met"] for s in self.during)
                    deviated = (after is not None and not after["steady_state_met"]) or (
                        during_failed
                    )
                    status = "deviated" if deviated else "completed"
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
            self.run_rollbacks(status)
            cleaned = ctx.cleanup()
            ctx.close_faults()
            with contextlib.suppress(KeyboardInterrupt):
                self.controls.after("experiment", exp.definition, {"status": status})
                self.controls.cleanup()
        ended_at = ctx.wall()
        ctx.event("experiment-end", f"experiment ended: {status}")
        self._log(f"status: {status}")
        journal = {
            "seawall_journal": JOURNAL_VERSION,
            "seawall-version": seawall_version(),
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": exp.definition,
            "title": exp.title,
            "description": exp.description,
            "source": exp.source,
            # Chaos Toolkit's vocabulary: a deviation is a completed run that deviated.
            "status": "completed" if status == "deviated" else status,
            "deviated": status == "deviated",
            "error": error,
            "start": iso(started_at),
            "end": iso(ended_at),
            "duration": round(ended_at - started_at, 6),
            "steady_states": {"before": before, "after": after, "during": self.during},
            "run": sorted(self.method_runs, key=lambda r: r.get("t_start", 0.0)),
            "rollbacks": self.rollback_runs,
            "rollbacks_skipped": self.rollbacks_skipped,
            "fault_windows": ctx.fault_windows,
            "load": ctx.load_runs,
            "events": ctx.events,
            "cleanup": cleaned,
            "runner": {"python": platform.python_version(), "pid": os.getpid()},
        }
        # The journal is shared and kept; a secret's value has no business in it.
        redacted: dict[str, Any] = redact(journal, exp.secrets)
        return redacted


def run_experiment(experiment: Experiment, **options: Any) -> dict[str, Any]:
    """Run ``experiment`` (see :class:`Runner` for options); returns the journal."""
    return Runner(experiment, **options).run()
