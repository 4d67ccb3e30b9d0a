"""``seawall experiment`` and ``seawall postmortem``: exit codes 0 / 1 / 2 / 130."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import seawall.experiment
from seawall._errors import ConfigError
from seawall.cli import main
from seawall.experiment._cli import parse_vars
from tests.unit.experiment import probes

M = "tests.unit.experiment.probes"


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    probes.reset()
    yield
    probes.reset()


def write(tmp_path: Path, method: list[dict[str, Any]]) -> Path:
    doc = {
        "title": "cli",
        "steady-state-hypothesis": {
            "title": "healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": "healthy",
                    "tolerance": True,
                    "provider": {"type": "python", "module": M, "func": "health"},
                }
            ],
        },
        "method": method,
        "rollbacks": [
            {
                "type": "action",
                "name": "mend",
                "provider": {"type": "python", "module": M, "func": "mend"},
            }
        ],
    }
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def action(func: str) -> dict[str, Any]:
    return {
        "type": "action",
        "name": func,
        "provider": {"type": "python", "module": M, "func": func},
    }


def test_run_exit_0_when_the_hypothesis_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "experiment",
            "run",
            str(write(tmp_path, [action("mend")])),
            "--out",
            str(out),
            "--no-report",
        ]
    )
    assert code == 0
    assert "status: completed" in capsys.readouterr().out
    assert json.loads((out / "journal.json").read_text())["status"] == "completed"


def test_run_exit_1_when_it_deviates_and_rollbacks_ran(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "experiment",
            "run",
            str(write(tmp_path, [action("break_it")])),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 1
    journal = json.loads((out / "journal.json").read_text())
    assert (journal["status"], journal["deviated"]) == ("completed", True)  # chaos's terms
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert probes.calls[-1] == "mend"
    assert (out / "report.html").exists()
    assert (out / "report.md").exists()


def test_run_exit_130_after_ctrl_c_with_rollbacks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = write(tmp_path, [action("break_it"), action("interrupt")])
    assert (
        main(["experiment", "run", str(path), "--out", str(out), "--quiet", "--no-report"]) == 130
    )
    assert probes.calls[-1] == "mend"
    assert json.loads((out / "journal.json").read_text())["status"] == "interrupted"


def test_a_malformed_file_exits_2_naming_field_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: x\nmethod:\n  - type: action\n    name: a\n    provider:\n      type: smoke\n"
    )
    assert main(["experiment", "run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"seawall: {bad}:6: method[0].provider.type: must be one of" in err
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written
    assert main(["experiment", "validate", str(bad)]) == 2


def test_validate_and_report_and_postmortem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, [action("break_it")])
    assert main(["experiment", "validate", str(path)]) == 0
    assert "ok (1 hypothesis probe(s), 1 method activity, 1 rollback(s))" in capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["experiment", "run", str(path), "--out", str(out), "--quiet", "--no-report"]) == 1
    assert main(["experiment", "report", str(out / "journal.json")]) == 0
    assert (out / "report.html").exists()
    capsys.readouterr()
    assert main(["postmortem", str(out / "journal.json")]) == 0
    assert "# Postmortem (draft): cli" in capsys.readouterr().out
    assert main(["postmortem", str(out / "journal.json"), "-o", str(tmp_path / "pm.md")]) == 0
    assert "## Action items" in (tmp_path / "pm.md").read_text()
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert main(["postmortem", str(tmp_path / "junk.json")]) == 2
    assert main(["experiment", "report", str(tmp_path / "junk.json")]) == 2
    assert main(["experiment"]) == 2


def test_vars_are_typed() -> None:
    assert parse_vars(["a=1", "b:int=2", "c:float=0.5", "d:bool=true", "e=x=y"]) == {
        "a": "1",
        "b": 2,
        "c": 0.5,
        "d": True,
        "e": "x=y",
    }
    with pytest.raises(ConfigError, match="is not int"):
        parse_vars(["b:int=two"])
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        parse_vars(["no-equals"])


def test_exports_are_sorted_and_complete() -> None:
    exported = seawall.experiment.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in exported:
        assert hasattr(seawall.experiment, name)
    public = {n for n in vars(seawall.experiment) if n[0] not in "_@" and n != "annotations"}
    assert public == set(exported)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_var_the_experiment_never_uses_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, [action("note")])
    code = main(["experiment", command, str(path), "--var", "nope=1", "--var", "x=2"])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert "--var nope: the experiment neither declares nor uses 'nope'" in line
    assert "Traceback" not in line


def test_a_var_the_experiment_declares_or_uses_is_accepted(tmp_path: Path) -> None:
    doc = json.loads(write(tmp_path, [action("mend")]).read_text())
    doc["configuration"] = {"server_url": "http://127.0.0.1:1"}  # read by drivers, not ${}
    doc["description"] = "${who}"
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(doc))
    assert (
        main(["experiment", "validate", str(path), "--var", "server_url=x", "--var", "who=me"]) == 0
    )


def test_a_failing_probe_says_why_on_stderr_even_when_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(write(tmp_path, [action("mend")]).read_text())
    doc["steady-state-hypothesis"]["probes"].append(
        {
            "type": "probe",
            "name": "web",
            "tolerance": 200,
            "provider": {"type": "http", "url": "http://127.0.0.1:9/", "timeout": 0.5},
        }
    )
    path = tmp_path / "refused.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert main(["experiment", "run", str(path), "--out", str(out), "--quiet", "--no-report"]) == 1
    err = capsys.readouterr().err
    assert "[before] web: failed: GET http://127.0.0.1:9/ failed: " in err
    assert "refused" in err.lower()


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (
            {"type": "process", "path": "no-such-program-anywhere"},
            "process path 'no-such-program-anywhere' cannot be found",
        ),
        (
            {"type": "process", "path": "/no/such/program"},
            "process path '/no/such/program' cannot be found",
        ),
        (
            {"type": "process", "path": __file__},  # a file, not a program
            f"process path {__file__!r} is not executable",
        ),
        (
            {"type": "python", "module": "no_such_module_x", "func": "f"},
            "cannot import Python module 'no_such_module_x'",
        ),
        (
            {"type": "python", "module": M, "func": "nope"},
            f"Python module '{M}' has no function 'nope'",
        ),
        (
            {"type": "python", "module": M, "func": "note", "arguments": {"nam": "x"}},
            "arguments do not match its signature",
        ),
    ],
)
def test_validate_checks_what_chaos_validate_checks(
    provider: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(write(tmp_path, [action("mend")]).read_text())
    doc["method"] = [{"type": "action", "name": "it", "provider": provider}]
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(doc))
    for command in (["validate"], ["run", "--out", str(tmp_path / "out")]):
        assert main(["experiment", *command, str(path)]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "refs.json:" in line
        assert "action 'it': " in line
        assert message in line
    assert probes.calls == []  # nothing ran


def test_validate_accepts_what_exists(tmp_path: Path) -> None:
    doc = json.loads(write(tmp_path, [action("mend")]).read_text())
    doc["method"].append(
        {"type": "action", "name": "ls", "provider": {"type": "process", "path": "true"}}
    )
    doc["method"].append(
        {"type": "action", "name": "ok", "provider": {"type": "process", "path": sys.executable}}
    )
    path = tmp_path / "good.json"
    path.write_text(json.dumps(doc))
    assert main(["experiment", "validate", str(path)]) == 0


def test_validate_warns_about_a_control_that_does_not_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(write(tmp_path, [action("mend")]).read_text())
    doc["controls"] = [{"name": "gone", "provider": {"type": "python", "module": "no_such_ctl"}}]
    path = tmp_path / "controls.json"
    path.write_text(json.dumps(doc))
    assert main(["experiment", "validate", str(path)]) == 0  # chaos runs on without it
    err = capsys.readouterr().err
    assert "warning: " in err
    assert "control 'gone': cannot import Python module 'no_such_ctl'" in err
