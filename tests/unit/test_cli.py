"""The ``seawall`` command itself: version, usage, and the shared exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from seawall.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_declared_version(capsys: pytest.CaptureFixture[str]) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert main(["--version"]) == 0
    out, err = capsys.readouterr()
    assert out == f"seawall {declared}\n"
    assert err == ""


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "--version" in capsys.readouterr().out


def test_an_unknown_flag_is_one_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bogus"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err
    assert "Traceback" not in err
