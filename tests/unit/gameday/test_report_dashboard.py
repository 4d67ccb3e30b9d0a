"""The game day report embeds the seawall gateway's dashboard tiles, drawn by the same page."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from seawall.gameday._measure import Run
from seawall.gameday._report import ScenarioResult, write_gameday_report
from seawall.metrics._sampler import Sampler, view
from seawall.metrics._tiles import readings
from tests.unit.metrics.snapshots import breaker, snapshot


def _run(gateway: str) -> Run:
    return Run(gateway, 10, 10, 100.0, 5.0, 9.0, 10.0, 1.0, 10, 1, 0, 0, 0.0, ((0, 10, 10, 9.0),))


def test_the_report_embeds_the_dashboard_view_as_a_still_page(tmp_path: Path) -> None:
    sampler = Sampler()
    sampler.record(0.0, {"a": readings(snapshot(breaker("catalog", "127.0.0.1:9", failure=0)))})
    sampler.record(
        1.0, {"a": readings(snapshot(breaker("catalog", "127.0.0.1:9", failure=9, state="open")))}
    )
    tiles = view(sampler)
    result = ScenarioResult(
        "slow-catalog", "Slow catalog", "slow", "story", (2.0, 6.0),
        {"naive": _run("naive"), "seawall": _run("seawall")}, True, "why", ("success",), tiles,
    )  # fmt: skip
    page, _, data = write_gameday_report(tmp_path / "gameday.html", [result], [], {
        "seed": 0, "duration": 8.0, "rate": 60.0, "budget_ms": 2000
    })  # fmt: skip
    frames = re.findall(r"srcdoc='([^']*)'", page.read_text())
    assert len(frames) == 1
    embedded = html.unescape(frames[0])
    config = json.loads(re.search(r"const CONFIG = (.*);\n", embedded).group(1))  # type: ignore[union-attr]
    assert config["stream"] is None
    assert config["view"]["tiles"][0]["id"] == "catalog|127.0.0.1:9"
    assert config["view"]["tiles"][0]["state"] == "open"
    assert json.loads(data.read_text())["scenarios"][0]["dashboard"] == tiles


def test_a_scenario_without_a_dashboard_view_has_no_frame(tmp_path: Path) -> None:
    result = ScenarioResult(
        "slow-catalog", "Slow catalog", "slow", "story", (2.0, 6.0),
        {"naive": _run("naive"), "seawall": _run("seawall")}, True, "why", ("success",),
    )  # fmt: skip
    page, *_ = write_gameday_report(tmp_path / "gameday.html", [result], [], {
        "seed": 0, "duration": 8.0, "rate": 60.0, "budget_ms": 2000
    })  # fmt: skip
    assert "<iframe" not in page.read_text()
