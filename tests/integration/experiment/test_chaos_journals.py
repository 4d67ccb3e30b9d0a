"""Postmortems of journals written by the real ``chaos run`` (chaostoolkit 1.19): each
states chaos's outcome, the activities by name, the faults (the method's actions), the
errors from ``exception`` lists, a timeline from the activities' own times, and what may
still be in place when rollbacks were skipped or failed. And a seawall journal has the
shape of chaos's, so Chaos Toolkit's tools read it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from seawall.cli import main
from seawall.experiment import draft_postmortem, load_journal, outcome
from tests.integration.conftest import need

HERE = Path(__file__).parent
M = "chaos_probes"


def probe(name: str, func: str, flag: str, tolerance: Any = True) -> dict[str, Any]:
    provider = {"type": "python", "module": M, "func": func, "arguments": {"path": flag}}
    return {"type": "probe", "name": name, "tolerance": tolerance, "provider": provider}


def action(name: str, func: str, flag: str | None = None) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": M, "func": func}
    if flag is not None:
        provider["arguments"] = {"path": flag}
    return {"type": "action", "name": name, "provider": provider}


def experiments(flag: str) -> dict[str, dict[str, Any]]:
    hypothesis = {"title": "healthy", "probes": [probe("is-healthy", "healthy", flag)]}
    mend = [action("mend-it", "mend", flag)]
    return {
        "completed": {
            "title": "nothing breaks",
            "description": "d",
            "steady-state-hypothesis": hypothesis,
            "method": [action("touch-nothing", "noop")],
            "rollbacks": mend,
        },
        "deviated": {
            "title": "a break deviates",
            "description": "d",
            "steady-state-hypothesis": hypothesis,
            "method": [action("break-it", "break_it", flag)],
            "rollbacks": mend,
        },
        "failed": {
            "title": "a probe errors after the break",
            "description": "d",
            "steady-state-hypothesis": {
                "title": "healthy",
                "probes": [probe("strictly-healthy", "strict_health", flag)],
            },
            "method": [action("break-it", "break_it", flag), action("explode", "explode")],
            "rollbacks": mend,
        },
        "gate": {
            "title": "not steady to begin with",
            "description": "d",
            "steady-state-hypothesis": {
                "title": "broken",
                "probes": [probe("is-broken", "healthy", flag, tolerance=False)],
            },
            "method": [action("break-it", "break_it", flag)],
            "rollbacks": mend,
        },
        "skipped": {
            "title": "rollbacks only on deviation",
            "description": "d",
            "runtime": {"rollbacks": {"strategy": "deviated"}},
            "steady-state-hypothesis": hypothesis,
            "method": [action("touch-nothing", "noop")],
            "rollbacks": mend,
        },
        "rollback-fails": {
            "title": "the rollback fails",
            "description": "d",
            "steady-state-hypothesis": hypothesis,
            "method": [action("break-it", "break_it", flag)],
            "rollbacks": [action("mend-it", "explode")],
        },
    }


@pytest.fixture(scope="module")
def chaos_journals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each experiment run once by the real ``chaos run``; name -> journal path."""
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent)) or shutil.which("chaos")
    need(chaos is not None, "the chaostoolkit dev dependency (the `chaos` command)")
    assert chaos is not None
    root = tmp_path_factory.mktemp("chaos")
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    journals = {}
    for name, doc in experiments(str(root / "broken.flag")).items():
        (root / "broken.flag").unlink(missing_ok=True)
        file = root / f"{name}.json"
        file.write_text(json.dumps(doc))
        journal = root / f"{name}-journal.json"
        subprocess.run(
            [
                chaos,
                "--no-version-check",
                "--no-log-file",
                "run",
                "--journal-path",
                str(journal),
                str(file),
            ],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert journal.exists(), name
        journals[name] = journal
    return journals


def draft(path: Path) -> str:
    return draft_postmortem(load_journal(path), str(path))


def test_a_completed_run(chaos_journals: dict[str, Path]) -> None:
    journal = load_journal(chaos_journals["completed"])
    assert (journal["status"], journal["deviated"], outcome(journal)) == (
        "completed",
        False,
        "completed",
    )
    text = draft(chaos_journals["completed"])
    assert "ended **completed**" in text
    assert "It injected: `touch-nothing`." in text
    assert "All 1 rollback(s) ran and succeeded." in text
    assert "The run left nothing running or filled behind." in text
    assert "method: action `touch-nothing` started" in text  # timeline from the runs' times
    assert "rollback: action `mend-it` succeeded" in text


def test_a_deviated_run_is_completed_plus_deviated(chaos_journals: dict[str, Path]) -> None:
    text = draft(chaos_journals["deviated"])
    assert "ended **deviated** (journal: `status: completed`, `deviated: True`)" in text
    assert "It injected: `break-it`." in text
    assert "Probe `is-healthy` was out of tolerance afterwards: output False is outside" in text
    assert "- The method's action `break-it`." in text  # the trigger
    assert "All 1 rollback(s) ran and succeeded." in text


def test_a_failed_run_names_the_exception_and_the_skipped_rollback(
    chaos_journals: dict[str, Path],
) -> None:
    text = draft(chaos_journals["failed"])
    assert "ended **failed**" in text
    assert "It injected: `break-it`; `explode` (failed)." in text
    assert "Method activity `explode` failed: " in text
    assert "ConnectionError: connection refused" in text
    assert "Probe `strictly-healthy` was out of tolerance afterwards: " in text
    assert "Rollback(s) `mend-it` never ran" in text
    assert "may still be in place" in text
    assert "left nothing running" not in text


def test_a_run_whose_hypothesis_failed_first_is_not_a_success(
    chaos_journals: dict[str, Path],
) -> None:
    journal = load_journal(chaos_journals["gate"])
    assert (journal["status"], journal["deviated"]) == ("completed", False)  # chaos exits 0
    text = draft(chaos_journals["gate"])
    assert "ended **failed**" in text
    assert "not in its steady state before the faults; the method never ran" in text
    assert "Probe `is-broken` failed before the faults" in text
    assert "It injected: no fault." in text


def test_rollbacks_skipped_by_the_strategy_are_reported(chaos_journals: dict[str, Path]) -> None:
    assert load_journal(chaos_journals["skipped"])["rollbacks"] == []
    text = draft(chaos_journals["skipped"])
    assert "ended **completed**" in text
    assert "Rollback(s) `mend-it` never ran" in text
    assert "left nothing running" not in text


def test_a_failed_rollback_is_named_with_its_exception(chaos_journals: dict[str, Path]) -> None:
    text = draft(chaos_journals["rollback-fails"])
    assert "Rollback `mend-it` failed: " in text
    assert "ConnectionError: connection refused" in text
    assert "left nothing running" not in text


def test_the_postmortem_cli_reads_a_chaos_journal(
    chaos_journals: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "pm.md"
    assert main(["postmortem", str(chaos_journals["failed"]), "-o", str(out)]) == 0
    assert "Rollback(s) `mend-it` never ran" in out.read_text()


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def test_a_seawall_journal_has_the_shape_chaos_writes(
    chaos_journals: dict[str, Path], tmp_path: Path
) -> None:
    """The same experiment through seawall: every field chaos writes (its version aside)
    is there, with chaos's type, at the top, in the steady states and in each activity."""
    flag = tmp_path / "broken.flag"
    doc = experiments(str(flag))["deviated"]
    file = tmp_path / "deviated.json"
    file.write_text(json.dumps(doc))
    sys.path.insert(0, str(HERE))
    try:
        out = tmp_path / "run"
        assert main(["experiment", "run", str(file), "--out", str(out), "--no-report"]) == 1
    finally:
        sys.path.remove(str(HERE))
    ours = json.loads((out / "journal.json").read_text())
    theirs = json.loads(chaos_journals["deviated"].read_text())
    for key, value in theirs.items():
        if key == "chaoslib-version":
            assert isinstance(ours["seawall-version"], str)
            continue
        assert type(ours[key]) is type(value), key
    assert (ours["status"], ours["deviated"]) == (theirs["status"], theirs["deviated"])
    assert set(ours["steady_states"]) == set(theirs["steady_states"])
    for phase in ("before", "after"):
        assert set(theirs["steady_states"][phase]) <= set(ours["steady_states"][phase])
        ours_probe = ours["steady_states"][phase]["probes"][0]
        theirs_probe = theirs["steady_states"][phase]["probes"][0]
        assert set(theirs_probe) <= set(ours_probe)
        assert ours_probe["activity"]["name"] == theirs_probe["activity"]["name"]
        assert ours_probe["tolerance_met"] == theirs_probe["tolerance_met"]
    for section in ("run", "rollbacks"):
        assert len(ours[section]) == len(theirs[section])
        for mine, chaos in zip(ours[section], theirs[section], strict=True):
            assert set(chaos) <= set(mine), section
            assert mine["activity"]["name"] == chaos["activity"]["name"]
            assert mine["status"] == chaos["status"]
