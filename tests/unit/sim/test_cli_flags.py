"""``seawall sim run/list/sweep`` flags, fuzzed: a bad flag is one line and exit 2.

Whatever the command line, the command either refuses it (exit 2, one message, never a
traceback) or starts runs whose every figure is within the documented ranges. The runs
themselves are replaced by a stand-in that records what would run: scenarios take
seconds each, and what is fuzzed here is the checking of the flags, not the scenarios.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall.cli import main
from seawall.sim import _cli
from seawall.sim._scenarios import SCENARIOS


class Started(Exception):
    """Raised by the stand-in for the runs: the flags were accepted."""

    def __init__(self, jobs: list[tuple[str, int, int, float | None]]) -> None:
        super().__init__(jobs)
        self.jobs = jobs


def fake_run(scenario: str, clients: int, seed: int = 0, until: float | None = None) -> Any:
    raise Started([(scenario, clients, seed, until)])


def fake_sweep(
    scenario: str,
    parameter: str,
    values: list[float],
    clients: int,
    seed: int,
    until: float | None,
    workers: int = 2,
) -> Any:
    jobs = []
    for value in values:
        jobs.append(
            (
                scenario,
                int(value) if parameter == "clients" else clients,
                int(value) if parameter == "seed" else seed,
                float(value) if parameter == "until" else until,
            )
        )
    raise Started(jobs)


def assert_in_documented_ranges(job: tuple[str, int, int, float | None]) -> None:
    scenario, clients, seed, until = job
    assert scenario in SCENARIOS
    assert 10 <= clients <= 1_000_000
    assert seed >= 0
    assert until is None or (math.isfinite(until) and 10.0 <= until <= 86_400.0)


def assert_one_message(err: str) -> None:
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    if lines[0].startswith("usage:"):  # argparse: its usage, then one error line
        assert ": error: " in lines[-1]
        assert sum(": error: " in line for line in lines) == 1
    else:
        assert len(lines) == 1, err
        assert lines[0].startswith("seawall sim: ")


WORDS = [
    "nan", "inf", "-inf", "1e400", "-1", "0", "9", "10", "10.5", "1e6", "1000001", "86401",
    "1_000", "0x10", " 10", "10,20", "10,,20", ",", "", "１０", "10,nan", "30,inf", "1e-9",
    "clients", "seed", "until", "attempts",
]  # fmt: skip
value = st.one_of(
    st.sampled_from(WORDS),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    # Control characters left out: argparse echoes an unrecognised argument as given, so
    # a newline typed inside one would split its message.
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="-"),
        max_size=6,
    ),
)
FLAGS = ["--clients", "--seed", "--until", "--values", "--workers", "--json", "--strict"]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    argv = ["sim", draw(st.sampled_from(["run", "sweep", "list"]))]
    if argv[1] == "sweep":
        argv.append(draw(st.one_of(st.sampled_from(["clients", "seed", "until"]), value)))
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from([*SCENARIOS, "nope", ""])))
    for flag in draw(st.lists(st.sampled_from(FLAGS), max_size=5)):
        argv.append(flag)
        if flag not in ("--json", "--strict"):
            argv.append(draw(value))
    return argv


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(argv=command_lines(), report=st.sampled_from(["ok", "dir", "under-a-file"]))
def test_any_flags_exit_2_with_one_line_or_start_runs_in_range(
    argv: list[str],
    report: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(_cli, "run_scenario", fake_run)
    monkeypatch.setattr(_cli, "sweep", fake_sweep)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "file").write_text("")
        where = {"ok": "r.html", "dir": ".", "under-a-file": "file/r.html"}[report]
        if argv[1] != "list":
            argv = [*argv, "--report", str(Path(tmp) / where)]
        try:
            code = main(argv)
        except Started as started:
            assert report == "ok"  # a report that cannot be written is refused first
            for job in started.jobs:
                assert_in_documented_ranges(job)
            return
        finally:
            err = capsys.readouterr().err
    if code == 0:
        assert argv[1] == "list" or "-h" in argv or "--help" in argv
        return
    assert code == 2, (argv, code, err)
    assert_one_message(err)


@pytest.mark.parametrize(
    "values", ["nan", "inf", "1e400", "10,nan"], ids=["nan", "inf", "overflow", "one-of-two"]
)
@pytest.mark.parametrize("parameter", ["clients", "seed"])
def test_a_sweep_of_whole_numbers_refuses_nan_and_infinity(
    parameter: str, values: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "sweep", parameter, "--values", values, "partition"]) == 2
    assert_one_message(capsys.readouterr().err)


def test_an_unwritable_report_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_cli, "run_scenario", fake_run)
    monkeypatch.setattr(_cli, "sweep", fake_sweep)
    (tmp_path / "file").write_text("")
    for argv in (
        ["sim", "run", "partition", "--report", str(tmp_path / "file" / "r.html")],
        ["sim", "run", "partition", "--report", str(tmp_path)],
        ["sim", "sweep", "seed", "--values", "1,2", "partition", "--report", str(tmp_path)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert_one_message(err)
        assert "cannot write the report" in err
