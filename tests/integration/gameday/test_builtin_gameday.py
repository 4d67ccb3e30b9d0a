"""The built-in game day (the main job) end to end: real processes, real faults."""

from __future__ import annotations

import json
from pathlib import Path

from seawall.cli import main


def test_gameday_shows_duplicates_prevented_and_a_bad_deploy_absorbed(tmp_path: Path) -> None:
    report = tmp_path / "gameday.html"
    code = main(
        [
            "gameday",
            *("--scenario", "flaky-network", "--scenario", "bad-deploy"),
            *("--scenario", "operator-error", "--scenario", "split-brain"),
            *("--duration", "4", "--report", str(report)),
        ]
    )
    assert code == 0
    data = json.loads(report.with_suffix(".json").read_text())
    runs = {s["name"]: s["runs"] for s in data["scenarios"]}
    flaky = runs["flaky-network"]
    assert flaky["naive"]["duplicates"] > 0  # the fault really reset charges after the work
    assert flaky["seawall"]["duplicates"] == 0
    assert flaky["seawall"]["charges"] > 0
    deploy = runs["bad-deploy"]
    assert deploy["seawall"]["success"] > deploy["naive"]["success"]
    assert deploy["seawall"]["success"] >= 95.0
    checks = data["operator_checks"]
    assert all(c["seawall_errors"] == 0 < c["naive_errors"] for c in checks)
    by_name = {c["name"].split(" (")[0]: c for c in checks}
    canary = by_name["seawall canary judge"]
    assert "good canary (as the baseline): promote" in canary["detail"]
    assert "bad canary (5% 500s): rollback" in canary["detail"]
    assert by_name["seawall.sqlguard"]["naive_rules"] == [
        "missing_where",
        "tautological_where",
        "row_limit",
        "drop",
    ]
    split = {row["mode"]: row for row in data["split_brain"]}
    assert split["naive"]["conflicting"] > 0
    assert split["lease + fencing"]["conflicting"] == 0
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2
    # The report embeds the seawall gateway's own dashboard tiles, one frame per scenario.
    assert page.count("<iframe class='dashboard'") == 2
    for scenario in data["scenarios"]:
        tiles = {t["id"]: t for t in scenario["dashboard"]["tiles"]}
        assert "gateway|" in tiles  # the gateway's load shedder
        clients = [t for i, t in tiles.items() if i.startswith("client|")]
        assert any(sum(v or 0 for v in t["spark"]) > 0 for t in clients)  # it saw the traffic
    assert report.with_suffix(".md").exists()


def test_gameday_rejects_an_unknown_scenario(capsys: object) -> None:
    assert main(["gameday", "--scenario", "meteor-strike"]) == 2
    assert main(["gameday", "--duration", "0"]) == 2
