"""The runner on virtual time: hypothesis, method, hypothesis, and rollbacks - always."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.experiment import EXIT_CODES, Runner, outcome, parse_experiment
from seawall.testing import FakeClock
from tests.unit.experiment import probes

M = "tests.unit.experiment.probes"


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    probes.reset()
    yield
    probes.reset()


def act(name: str, func: str, kind: str = "action", **extra: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": M, "func": func},
    }
    if "arguments" in extra:
        activity["provider"]["arguments"] = extra.pop("arguments")
    return activity | extra


def experiment(method: list[dict[str, Any]], rollbacks: list[dict[str, Any]] | None = None) -> Any:
    doc = {
        "title": "shop",
        "steady-state-hypothesis": {
            "title": "healthy",
            "probes": [
                act("healthy", "health", "probe", tolerance=True),
                act("status-ok", "status", "probe", tolerance=200),
            ],
        },
        "method": method,
        "rollbacks": rollbacks if rollbacks is not None else [act("mend", "mend")],
    }
    return parse_experiment(json.dumps(doc), "exp.json")


def run(exp: Any) -> tuple[dict[str, Any], FakeClock]:
    clock = FakeClock()
    journal = Runner(exp, clock=clock, wall=lambda: 1_800_000_000.0 + clock.now()).run()
    json.dumps(journal)  # always serialisable
    return journal, clock


def test_a_hypothesis_that_holds_completes_with_exit_0() -> None:
    exp = experiment(
        [act("look", "note", arguments={"name": "look"}, pauses={"before": 2, "after": 3})]
    )
    journal, clock = run(exp)
    assert journal["status"] == "completed"
    assert EXIT_CODES[journal["status"]] == 0
    assert probes.calls == ["health", "status", "look", "health", "status", "mend"]
    assert clock.now() == 5.0  # the pauses, on virtual time: nothing really slept
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    [look] = journal["run"]
    assert look["t_start"] == 2.0
    assert look["t_end"] == 2.0
    assert look["start"] == "2027-01-15T08:00:02.000Z"
    assert look["output"] == "look"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]


def test_a_failing_hypothesis_deviates_with_exit_1_and_rollbacks_ran() -> None:
    journal, _ = run(experiment([act("break", "break_it", arguments={"status": 503})]))
    assert journal["status"] == "completed"  # Chaos Toolkit's terms: completed, deviated
    assert journal["deviated"] is True
    assert outcome(journal) == "deviated"
    assert EXIT_CODES[outcome(journal)] == 1
    after = journal["steady_states"]["after"]
    assert after["steady_state_met"] is False
    [probe] = after["probes"]  # the first probe out of tolerance decides
    assert probe["name"] == "healthy"
    assert probe["tolerance_met"] is False
    assert probes.calls[-1] == "mend"
    assert journal["rollbacks"][0]["status"] == "succeeded"
    assert probes.state["healthy"] is True


def test_not_steady_before_means_failed_no_method_but_rollbacks() -> None:
    probes.state["status"] = 500
    journal, _ = run(experiment([act("never", "note", arguments={"name": "never"})]))
    assert journal["status"] == "failed"
    assert "did not hold before" in journal["error"]
    assert "never" not in probes.calls
    assert journal["steady_states"]["before"]["probes"][1]["tolerance_reason"]
    assert probes.calls[-1] == "mend"


def test_a_failed_method_action_stops_the_method_and_fails_the_run() -> None:
    method = [act("boom", "fail"), act("never", "note", arguments={"name": "never"})]
    journal, _ = run(experiment(method))
    assert journal["status"] == "failed"
    assert "boom" in journal["error"]
    assert journal["run"][0]["error"] == "RuntimeError: the action could not run"
    assert "never" not in probes.calls
    assert probes.calls[-1] == "mend"


def test_a_failed_method_probe_is_recorded_and_the_method_goes_on() -> None:
    method = [act("look", "fail", "probe"), act("next", "note", arguments={"name": "next"})]
    journal, _ = run(experiment(method))
    assert journal["status"] == "completed"
    assert [r["status"] for r in journal["run"]] == ["failed", "succeeded"]


def test_ctrl_c_interrupts_then_rollbacks_run_and_exit_is_130() -> None:
    method = [
        act("break", "break_it"),
        act("ctrl-c", "interrupt"),
        act("never", "note", arguments={"name": "never"}),
    ]
    rollbacks = [act("mend", "mend"), act("tidy", "note", arguments={"name": "tidy"})]
    journal, _ = run(experiment(method, rollbacks))
    assert journal["status"] == "interrupted"
    assert EXIT_CODES[journal["status"]] == 130
    assert probes.calls[-2:] == ["mend", "tidy"]
    assert "never" not in probes.calls
    assert [r["status"] for r in journal["run"]] == ["succeeded", "interrupted"]
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert journal["steady_states"]["after"] is None
    assert any(e["kind"] == "interrupted" for e in journal["events"])


def test_ctrl_c_during_a_rollback_cuts_that_one_only() -> None:
    rollbacks = [act("cut", "interrupt"), act("mend", "mend")]
    journal, _ = run(experiment([act("break", "break_it")], rollbacks))
    assert [r["status"] for r in journal["rollbacks"]] == ["interrupted", "succeeded"]
    assert probes.state["healthy"] is True


def test_background_activities_are_joined_before_the_after_check() -> None:
    method = [
        act("bg", "note", arguments={"name": "background"}, background=True, pauses={"before": 1}),
        act("fg", "note", arguments={"name": "foreground"}),
    ]
    journal, _ = run(experiment(method))
    assert journal["status"] == "completed"
    assert sorted(r["name"] for r in journal["run"]) == ["bg", "fg"]
    assert probes.calls.index("background") < len(probes.calls) - 3  # before the after-check
    assert all(r["status"] == "succeeded" for r in journal["run"])


def test_without_a_hypothesis_the_run_completes() -> None:
    exp = parse_experiment(
        json.dumps({"title": "explore", "method": [act("look", "note", arguments={"name": "x"})]}),
        "exp.json",
    )
    journal, _ = run(exp)
    assert journal["status"] == "completed"
    assert journal["steady_states"] == {"before": None, "after": None, "during": []}
    assert journal["rollbacks"] == []


def test_the_journal_records_the_timeline_and_the_experiment() -> None:
    journal, _ = run(experiment([act("break", "break_it")]))
    kinds = [e["kind"] for e in journal["events"]]
    assert kinds[0] == "experiment-start"
    assert kinds[-1] == "experiment-end"
    assert "rollbacks" in kinds
    assert journal["experiment"]["title"] == "shop"
    assert journal["seawall_journal"] == 1
    assert journal["start"] == "2027-01-15T08:00:00.000Z"
    for key in ("fault_windows", "load", "cleanup", "platform", "duration", "end"):
        assert key in journal
