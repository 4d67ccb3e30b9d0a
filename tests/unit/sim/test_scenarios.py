"""Each built-in scenario's verdict, at a scale that runs in seconds.

The CLI runs them at 10,000 clients; the sizes scale with the number of clients, so the
mechanism each verdict rests on (retries multiplying, a queue that never drains, expiry
in step, a blackhole, a bad replica, a partitioned leader) is the same here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.cli import main
from seawall.sim._scenarios import run_scenario


def test_only_the_layer_above_the_dead_leaf_retries_with_the_default_budget() -> None:
    """The default RetryBudget at every layer of three, the leaf down for the whole run.

    The service right above the leaf retries until its budget's reserve runs dry, then
    answers "do not retry"; the gateway and the clients above it pass that on and never
    retry, so the dead leaf sees barely more calls than the clients send. The ratio and
    per-caller floor alone multiply the load more than tenfold.
    """
    outcome = run_scenario("amplification", clients=100)
    ours, theirs = outcome.runs["seawall"].metrics, outcome.runs["naive"].metrics
    assert ours["gateway"] <= 1.01  # the clients retry (next to) nothing
    assert ours["service"] <= 1.05
    assert ours["amplification"] <= 1.35  # the SRE book's 1.1x per layer, over 3 layers
    assert theirs["amplification"] > 10.0  # 3 layers of 3 attempts, less the cut-off
    assert outcome.won, outcome.why


def test_metastable_naive_stays_collapsed_and_seawall_recovers_within_10_s() -> None:
    # One replica at 100 requests/s, as each of the ten at 10,000 clients: its bulkheads
    # fill during the fault, and every slot must come back for seawall to recover.
    outcome = run_scenario("metastable", clients=1_000, until=70.0)
    naive, ours = outcome.runs["naive"].metrics, outcome.runs["seawall"].metrics
    assert naive["success % before the fault"] == ours["success % before the fault"] == 100.0
    assert naive["success % from 10 s after"] < 10.0
    assert ours["success % from 10 s after"] >= 90.0
    assert outcome.won, outcome.why


def test_herd_jitter_spreads_the_load_on_the_config_service() -> None:
    outcome = run_scenario("herd", clients=300, until=80.0)
    naive, ours = outcome.runs["naive"].metrics, outcome.runs["seawall"].metrics
    assert ours["peak config loads per second"] * 3 <= naive["peak config loads per second"]
    assert ours["reads failed %"] == 0.0 < naive["reads failed %"]
    assert outcome.won, outcome.why


def test_partitioned_clients_fail_fast_to_a_fallback() -> None:
    outcome = run_scenario("partition", clients=150, until=30.0)
    naive, ours = outcome.runs["naive"].metrics, outcome.runs["seawall"].metrics
    # Naive: three 1 s attempts and two 100 ms pauses; seawall: its 2 s total, or less.
    assert naive["time to answer, partitioned (s)"] == pytest.approx(3.2)
    assert ours["time to answer, partitioned (s)"] <= 2.0
    assert ours["success incl. fallback %, partitioned"] == 100.0
    assert naive["success incl. fallback %, partitioned"] == 0.0
    assert outcome.won, outcome.why


def test_bad_deploy_is_retried_around_within_the_budget() -> None:
    outcome = run_scenario("bad-deploy", clients=200)
    assert outcome.runs["seawall"].metrics["success %"] >= 99.0
    assert outcome.won, outcome.why


def test_slow_downstream_exhausts_naive_threads_while_bulkheads_keep_orders_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One replica at 500 requests/s, as each of the two at 10,000 clients.
    outcome = run_scenario("slow-downstream", clients=5_000, until=35.0)
    naive, ours = outcome.runs["naive"].metrics, outcome.runs["seawall"].metrics
    before, during = (
        "orders success % before the slowdown",
        ("orders success % during (the unrelated endpoint)"),
    )
    assert naive[before] == ours[before] == 100.0
    # Naive: recommendations' calls hold every shared worker thread and orders queue
    # behind them; seawall: recommendations' bulkhead caps its share of the threads.
    assert naive[during] < 50.0
    assert naive["api requests queued for a thread, peak"] > 1_000
    assert ours[during] >= 99.0
    assert ours["api requests queued for a thread, peak"] == 0
    assert outcome.won, outcome.why
    assert main(["sim", "list"]) == 0
    assert "slow-downstream" in capsys.readouterr().out


def test_split_brain_never_has_two_leaders_acting_with_lease_and_fencing() -> None:
    outcome = run_scenario("split-brain", clients=1_000, until=30.0)
    ours, naive = outcome.runs["seawall"].metrics, outcome.runs["naive"].metrics
    assert ours["candidates"] == 10
    assert ours["writes out of term order"] == 0
    assert ours["seconds with two leaders acting"] == 0
    assert naive["writes out of term order"] > 0
    assert outcome.won, outcome.why


def test_a_seed_fixes_the_outcome() -> None:
    first = run_scenario("partition", clients=60, seed=3, until=20.0)
    again = run_scenario("partition", clients=60, seed=3, until=20.0)
    assert (
        first.to_json()["runs"]["seawall"]["metrics"]
        == (again.to_json()["runs"]["seawall"]["metrics"])
    )
    assert first.runs["naive"].series == again.runs["naive"].series


def test_cli_lists_runs_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "list"]) == 0
    assert "metastable" in capsys.readouterr().out
    report = tmp_path / "partition.html"
    argv = ["sim", "run", "partition", "--clients", "30", "--until", "15", "--report"]
    assert main([*argv, str(report), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"] == "partition"
    assert data["clients"] == 30
    assert set(data["runs"]) == {"naive", "seawall"}
    page = report.read_text()
    assert "data:image/png;base64," in page
    assert "seawall wins" in page
    assert json.loads(report.with_suffix(".json").read_text())["won"] is True
    assert main([*argv, str(report)]) == 0
    assert "| time to answer, partitioned (s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["sim", "run", "nope"],
        ["sim", "run", "partition", "--clients", "5"],
        ["sim", "run", "partition", "--clients", "ten"],
        ["sim", "run", "partition", "--seed", "-1"],
        ["sim", "run", "partition", "--until", "1e9"],
        ["sim", "sweep", "attempts", "--values", "1,2", "partition"],
        ["sim", "sweep", "clients", "--values", "10,x", "partition"],
        ["sim", "sweep", "clients", "--values", "10.5", "partition"],
        ["sim", "sweep", "clients", "--values", "10", "partition", "--workers", "3"],
        ["sim"],
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_a_report_path_that_cannot_be_written_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    argv = ["sim", "run", "partition", "--clients", "30", "--until", "15"]
    assert main([*argv, "--report", str(blocker / "r.html")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_sweep_runs_in_two_processes_and_matches_single_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "sweep.html"
    argv = ["sim", "sweep", "clients", "--values", "30,60", "partition", "--until", "15"]
    assert main([*argv, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "## clients = 30" in out
    assert "## clients = 60" in out
    data = json.loads(report.with_suffix(".json").read_text())
    alone = run_scenario("partition", clients=60, until=15.0).to_json()
    assert data["runs"][1]["runs"]["seawall"]["metrics"] == alone["runs"]["seawall"]["metrics"]
    assert "data:image/png;base64," in report.read_text()
