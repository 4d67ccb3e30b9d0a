"""Ctrl-C (and SIGTERM) on a real ``seawall experiment run``: the run stops, rollbacks
run, what it started is stopped, and the exit code is 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.experiment.conftest import ROOT

pytestmark = pytest.mark.integration

EXPERIMENT = """\
title: interrupted mid-method
configuration:
  scratch: "{scratch}"
method:
  - type: action
    name: start-sleeper
    provider:
      type: seawall
      action: start-process
      name: sleeper
      command: ["{python}", "-c", "import time; time.sleep(120)"]
  - type: action
    name: fill
    provider: {{type: seawall, action: fill-disk, directory: "${{scratch}}", bytes: 1048576}}
  - type: action
    name: long-wait
    pauses: {{after: 60}}
    provider: {{type: process, path: "{python}", arguments: ["-c", "pass"]}}
  - type: action
    name: never
    provider: {{type: process, path: "{python}", arguments: ["-c", "open('${{scratch}}/never', 'w')"]}}
rollbacks:
  - type: action
    name: free-disk
    provider: {{type: seawall, action: fill-disk, op: remove, directory: "${{scratch}}"}}
  - type: action
    name: mark
    provider:
      type: process
      path: "{python}"
      arguments: ["-c", "open('${{scratch}}/rolled-back', 'w').write('yes')"]
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_rollbacks_run_after_ctrl_c_and_the_exit_code_is_130(
    tmp_path: Path, signum: signal.Signals
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT.format(scratch=scratch, python=sys.executable))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seawall.cli", "experiment", "run", str(path), "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        fill = scratch / "seawall-fill.bin"
        deadline = time.monotonic() + 20
        while not (fill.exists() and fill.stat().st_size == 1048576):
            assert time.monotonic() < deadline, "the method never reached the fill"
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        time.sleep(0.5)  # now inside the 60 s pause
        started = time.monotonic()
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    assert time.monotonic() - started < 10  # it did not sit out the pause
    assert not fill.exists()
    assert (scratch / "rolled-back").read_text() == "yes"
    assert not (scratch / "never").exists()
    journal = json.loads((out / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert [(r["name"], r["status"]) for r in journal["rollbacks"]] == [
        ("free-disk", "succeeded"),
        ("mark", "succeeded"),
    ]
    sleeper = journal["run"][0]["output"]["pid"]
    assert not _alive(sleeper)  # the run stopped what it started
    assert any("sleeper" in item for item in journal["cleanup"])
    assert "status: interrupted" in output
