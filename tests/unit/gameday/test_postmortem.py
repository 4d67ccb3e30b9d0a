"""The postmortem drafted from a game day's ``gameday.json``, and ``seawall postmortem``
telling a game-day report from a journal from anything else."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall.cli import main
from seawall.gameday import draft_gameday_postmortem
from tests.unit.gameday.gamedays import meta, run, sample_gameday, scenario, series

HEADINGS = (
    "## Summary",
    "## Impact",
    "## Timeline",
    "## Trigger",
    "## What went well",
    "## What went badly",
    "## Action items",
    "## Supporting data",
)


def section(text: str, heading: str) -> str:
    """The body of ``## heading``, up to the next ``## ``."""
    body = text.split(f"\n## {heading}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def bullets(text: str, heading: str) -> list[str]:
    return [line[2:] for line in section(text, heading).splitlines() if line.startswith("- ")]


def small_gameday() -> dict[str, Any]:
    """One clear win, and one loss where seawall is slower and never recovers."""
    win = scenario(
        "win",
        run("naive", ok=240, success=50.0, p99_ms=2000.9, series=series(60, {2: 10, 3: 0, 5: 30})),
        run("seawall", ok=478, success=99.5, p99_ms=120.0, series=series(60, {2: 58})),
        title="A win",
        why="better on success %, p99 ms",
    )
    loss = scenario(
        "loss",
        run("naive", p99_ms=100.0, duplicates=5, charges=65),
        run("seawall", p99_ms=300.0, recovery_s=None),
        title="A loss",
        mode="network partition",
        won=False,
        why="worse on p99 ms",
    )
    return {"meta": meta(elapsed_s=30.5), "scenarios": [win, loss]}


def test_a_small_report_states_its_numbers_in_every_section() -> None:
    text = draft_gameday_postmortem(small_gameday(), "reports/gameday.json")
    assert text.startswith("# Postmortem (draft): seawall game day (seed 0)\n")
    assert "Drafted by seawall from `reports/gameday.json`; every `_TODO_`" in text
    positions = [text.index(f"\n{h}\n") for h in HEADINGS]
    assert positions == sorted(positions)
    summary = section(text, "Summary")
    assert "for 8 s per run at 60 requests/s with a 2000 ms budget" in summary
    assert "Seawall won **1 of 2** scenario(s)" in summary
    assert "took 30.5 s" in summary
    impact = section(text, "Impact")
    assert "| requests answered ok | 240 of 480 | 478 of 480 |" in impact
    assert "| success % | 50 | 99.5 |" in impact
    assert "| p99 ms | 100 | 300 |" in impact
    assert "| duplicate charges | 5 | 0 |" in impact
    assert "| downstream calls per request | 1 | 1 |" in impact
    assert "| time to recover | 0 s | not recovered |" in impact
    timeline = section(text, "Timeline")
    assert "| 2 | fault injected: slow downstream |" in timeline
    assert "| 6 | fault removed |" in timeline
    assert "| 2 | naive: first second with failed requests (10 of 60 ok) |" in timeline
    assert "| 5 | naive: last second with failed requests (30 of 60 ok; 3 such" in timeline
    assert "| 2 | seawall: the only second with failed requests (58 of 60 ok) |" in timeline
    assert "| — | seawall: not recovered when its run ended |" in timeline
    assert "- **A loss** (`network partition`): injected from t=2 s to t=6 s" in text
    good, bad = bullets(text, "What went well"), bullets(text, "What went badly")
    assert good == [
        "**A win**: seawall won — better on success %, p99 ms (success 50 % naive against "
        "99.5 % seawall, p99 2000.9 ms against 120 ms)."
    ]
    assert bad == [
        "**A win**: seawall answered 99.5 % of requests (2 of 480 failed).",
        "**A loss**: NOT a seawall win — worse on p99 ms (success 100 % naive against 100 % "
        "seawall, p99 100 ms against 300 ms).",
        "**A loss**: seawall's p99 was 300 ms against naive's 100 ms (200 ms higher, 3.0x).",
        "**A loss**: the naive gateway made 5 duplicate charge(s) (65 charges in all).",
        "**A loss**: the seawall gateway had not recovered when its run ended.",
    ]
    actions = [line for line in section(text, "Action items").splitlines() if line[:3] == "| 1"]
    assert actions == [
        "| 1 | _TODO_: address — **A win**: seawall answered 99.5 % of requests (2 of 480 failed)."
        " | _TODO_ | _TODO_ | _TODO_ |"
    ]
    assert section(text, "Action items").count("| _TODO_ | _TODO_ | _TODO_ |") == len(bad)
    assert "- Re-run: `seawall gameday --seed 0 --duration 8 --rate 60`" in text


def test_a_slow_recovery_went_badly_and_a_quick_one_did_not() -> None:
    report = small_gameday()
    report["scenarios"][0]["runs"]["naive"]["recovery_s"] = 3.5
    report["scenarios"][0]["runs"]["seawall"]["recovery_s"] = 2.0
    bad = bullets(draft_gameday_postmortem(report), "What went badly")
    assert "**A win**: the naive gateway took 3.5 s after the fault ended to recover." in bad
    assert not any("seawall gateway took" in item for item in bad)


def test_the_real_shape_report_is_judged_from_its_numbers() -> None:
    text = draft_gameday_postmortem(sample_gameday())
    assert "Seawall won **6 of 6** scenario(s)" in text
    assert "Split brain was replayed in 3 configuration(s) and 2 operator check(s) ran" in text
    impact = section(text, "Impact")
    assert "| naive | 1005 | 45 | 5.91 | 0 |" in impact
    assert "| lease + fencing | 935 | 0 | 0 | 2 |" in impact
    assert "| seawall kube lint (manifests) | 4 / 5 | 0 / 0 | SW101, SW102, SW104 |" in impact
    good = bullets(text, "What went well")
    assert len([g for g in good if "seawall won —" in g]) == 6
    assert (
        "Split brain: with lease + fencing, 0 of 935 writes conflicted (2 stale-token write(s) "
        "rejected), against 45 with the naive leader flag." in good
    )
    assert (
        "`seawall budget check (timeouts going down)` caught the naive configuration before "
        "deploy: 4 error(s), 0 warning(s) (SW201); seawall's had 0 error(s)." in good
    )
    bad = bullets(text, "What went badly")
    assert bad == [
        "**Slow downstream: the catalog takes 3 s**: seawall answered 88.96 % of requests "
        "(53 of 480 failed).",
        "**Network partition: recommendations blackholed**: the naive gateway had not "
        "recovered when its run ended.",
        "**Cascading failure: a struggling catalog, retried harder**: seawall's p99 was "
        "1031.2 ms against naive's 343 ms (688.2 ms higher, 3.0x).",
        "**Flaky network under POSTs: 30 % of charges reset after the work**: the naive "
        "gateway made 43 duplicate charge(s) (283 charges in all).",
        "Split brain: the naive configuration let 45 conflicting write(s) of 1005 through "
        "(two leaders acting at once for 5.91 s).",
        "Split brain: the lease without fencing let 2 conflicting write(s) of 935 through "
        "(two leaders acting at once for 0 s).",
    ]
    timeline = section(text, "Timeline")
    herd = timeline.split("### Thundering herd", 1)[1].split("###", 1)[0]
    assert "| 2.4 | fault removed |" in herd
    assert "| — | naive: no second with failed requests |" in herd


def test_missing_and_odd_numbers_are_unknown_not_a_crash() -> None:
    odd = scenario(
        "odd",
        {"p99_ms": "fast", "success": True, "series": [[1, 2], "x", [None, 60, 0], [3, 60, 1e999]]},
        "not a run",
        window=["2", 6],
        won="yes",
        why=["no"],
        title="",
    )
    report = {"meta": {"duration": "8"}, "scenarios": [odd, "junk", {}], "split_brain": "no"}
    text = draft_gameday_postmortem(report)
    assert "(seed n/a)" in text
    assert "for n/a per run at n/a requests/s" in text
    assert "Seawall won **0 of 2** scenario(s)" in text
    assert "### odd" in text  # no title: the name
    assert "### scenario 2" in text  # neither
    assert "Verdict: **verdict unknown** — no reason recorded." in text
    assert "| p99 ms | n/a | n/a |" in text
    assert "| time to recover | n/a | n/a |" in text
    assert "| — | naive: no second with failed requests |" in text
    assert "| — | seawall: no per-second series in the report |" in text
    assert "injected from n/a of each run" in text
    assert "- Nothing measured went badly. _TODO_" in text
    assert "Re-run" not in text


def test_text_from_the_report_cannot_break_a_table() -> None:
    report = small_gameday()
    report["scenarios"][0]["title"] = "pipes | and\nnewlines"
    report["operator_checks"] = [{"name": "a|b", "naive_errors": 1, "naive_rules": ["X|Y"]}]
    text = draft_gameday_postmortem(report)
    assert "### pipes | and newlines" in text
    assert "| a\\|b | 1 / n/a | n/a / n/a | X\\|Y |" in text
    rows = [line for line in section(text, "Action items").splitlines() if line[:3] == "| 1"]
    assert rows
    for line in rows:
        assert line.count(" | ") == 4, line


# --- the CLI ---------------------------------------------------------------------------


def test_cli_drafts_from_a_game_day_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gameday.json"
    path.write_text(json.dumps(sample_gameday()))
    out = tmp_path / "postmortem.md"
    assert main(["postmortem", str(path), "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"postmortem: {out}\n"
    text = out.read_text()
    assert text.startswith("# Postmortem (draft): seawall game day (seed 0)\n")
    assert f"- Game-day report: `{path}`" in text
    assert main(["postmortem", str(path)]) == 0
    assert capsys.readouterr().out == text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "gameday.json:1: not a JSON journal or game-day report: Expecting"),
        ("1" * 5000, "gameday.json: not a JSON journal or game-day report: Exceeds the limit"),
        ("[1, 2]", "gameday.json: neither an experiment journal"),
        ('{"seed": 0, "results": []}', "gameday.json: neither an experiment journal"),
        ('{"meta": {}, "scenarios": {}}', "field 'scenarios' must be a list"),
        ('{"meta": [], "scenarios": []}', "field 'meta' must be an object"),
        ('{"meta": {}, "scenarios": [], "split_brain": 3}', "field 'split_brain' must be a list"),
        ('{"experiment": {}}', "journal has no 'status' field; is it a journal?"),
    ],
)
def test_cli_refuses_what_it_cannot_draft_from_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "gameday.json"
    path.write_text(content)
    assert main(["postmortem", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"seawall: {tmp_path}")
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_cli_names_a_file_it_cannot_read_or_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["postmortem", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read" in capsys.readouterr().err
    path = tmp_path / "gameday.json"
    path.write_text(json.dumps(sample_gameday()))
    assert main(["postmortem", str(path), "-o", str(tmp_path / "no" / "pm.md")]) == 2
    assert "pm.md: cannot write" in capsys.readouterr().err


def test_cli_help_names_both_kinds_of_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["postmortem", "--help"]) == 0
    assert "gameday.json of a game day" in " ".join(capsys.readouterr().out.split())


# --- never a crash ---------------------------------------------------------------------

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
RUN_KEYS = list(run("naive"))
runs = st.dictionaries(
    st.sampled_from(["naive", "seawall", "other"]),
    st.dictionaries(st.sampled_from(RUN_KEYS), junk | st.lists(st.lists(junk, max_size=4))) | junk,
    max_size=3,
)
scenarios = st.lists(
    st.dictionaries(st.sampled_from([*scenario("x", {}, {}), "runs"]), junk | runs) | junk,
    max_size=4,
)
reports = st.fixed_dictionaries(
    {
        "meta": st.dictionaries(st.sampled_from(list(meta())), junk) | junk,
        "scenarios": scenarios | junk,
    },
    optional={
        "operator_checks": st.lists(st.dictionaries(st.text(max_size=14), junk)) | junk,
        "split_brain": st.lists(st.dictionaries(st.text(max_size=12), junk)) | junk,
    },
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


SAMPLE = sample_gameday()
PATHS = [p for p in _paths(SAMPLE) if p]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports)
def test_any_shape_under_meta_and_scenarios_drafts_a_postmortem(report: dict[str, Any]) -> None:
    text = draft_gameday_postmortem(report)
    assert text.startswith("# Postmortem (draft): seawall game day")
    assert "## Action items" in text


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATHS), junk)
def test_replacing_any_field_of_a_real_report_with_junk_drafts_a_postmortem(
    path: tuple[Any, ...], value: Any
) -> None:
    report = copy.deepcopy(SAMPLE)
    node = report
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert "## What went badly" in draft_gameday_postmortem(report)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports | junk)
def test_the_cli_drafts_or_exits_2_with_one_line(document: Any) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "gameday.json"
        path.write_text(json.dumps(document))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["postmortem", str(path)])
    if code == 0:
        assert out.getvalue().startswith("# Postmortem (draft): ")
        assert err.getvalue() == ""
    else:
        assert code == 2
        assert err.getvalue().startswith(f"seawall: {path}")
        assert err.getvalue().count("\n") == 1
