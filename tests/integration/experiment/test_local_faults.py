"""seawall's local actions against real processes and a real disk: kill and restart a
service, kill by pid file, burn CPU, fill a directory - and refuse what is unsafe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from seawall.cli import main
from tests.integration.experiment.conftest import free_port, wait_until_up

pytestmark = pytest.mark.integration


def seawall(action: str, **params: Any) -> dict[str, Any]:
    return {"type": "seawall", "action": action, **params}


def run(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code = main(["experiment", "run", str(path), "--out", str(out), "--quiet", "--no-report"])
    return code, json.loads((out / "journal.json").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killing_the_only_instance_deviates_and_the_rollback_restarts_it(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    up = {
        "type": "probe",
        "name": "up",
        "tolerance": 200,
        "provider": {"type": "http", "url": url, "timeout": 1},
    }
    doc = {
        "title": "one instance",
        "method": [
            {
                "type": "action",
                "name": "start",
                "provider": seawall(
                    "start-process",
                    name="web",
                    command=server,
                    cwd=str(tmp_path),
                    wait_for={"port": port, "timeout": 15},
                ),
            },
            up,
            {"type": "action", "name": "kill", "provider": seawall("kill-process", name="web")},
            {
                "type": "probe",
                "name": "down",
                "provider": {"type": "http", "url": url, "timeout": 1},
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "restart",
                "provider": seawall(
                    "restart-process", name="web", wait_for={"url": url, "timeout": 15}
                ),
            },
            up | {"name": "up-again"},
        ],
    }
    code, journal = run(tmp_path, doc)
    assert code == 0  # no hypothesis: the method itself is the record
    runs = {r["name"]: r for r in journal["run"]}
    assert runs["down"]["status"] == "failed"
    assert runs["kill"]["output"]["signal"] == "SIGKILL"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    restarted = journal["rollbacks"][0]["output"]
    assert restarted["pid"] != restarted["old_pid"]
    [window] = journal["fault_windows"]
    assert window["kind"] == "kill-process"
    rollback = journal["rollbacks"][0]
    assert rollback["t_start"] <= window["end"] <= rollback["t_end"]
    assert not _alive(restarted["pid"])  # stopped at the end of the run
    assert journal["cleanup"] == [f"process 'web' (pid {restarted['pid']})"]


def test_killing_a_service_by_pid_file_deviates_with_exit_1_and_rollbacks_run(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    service = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(url, service)
        (tmp_path / "web.pid").write_text(str(service.pid))
        marker = tmp_path / "rolled-back"
        doc = {
            "title": "one instance, killed",
            "steady-state-hypothesis": {
                "title": "site up",
                "probes": [
                    {
                        "type": "probe",
                        "name": "up",
                        "tolerance": 200,
                        "provider": {"type": "http", "url": url, "timeout": 1},
                    }
                ],
            },
            "method": [
                {
                    "type": "action",
                    "name": "kill",
                    "provider": seawall("kill-process", pid_file=str(tmp_path / "web.pid")),
                }
            ],
            "rollbacks": [
                {
                    "type": "action",
                    "name": "mark",
                    "provider": {
                        "type": "process",
                        "path": sys.executable,
                        "arguments": ["-c", f"open({str(marker)!r}, 'w').write('ran')"],
                    },
                }
            ],
        }
        code, journal = run(tmp_path, doc)
        assert service.wait(timeout=10) == -9
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert code == 1
    assert (journal["status"], journal["deviated"]) == ("completed", True)  # chaos's terms
    assert "failed" in journal["steady_states"]["after"]["probes"][0]["status"]
    assert marker.read_text() == "ran"
    assert journal["rollbacks"][0]["status"] == "succeeded"
    [window] = journal["fault_windows"]
    assert window["label"] == f"process {tmp_path / 'web.pid'} killed"


def test_kill_by_pid_file_and_refusals(tmp_path: Path) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "victim.pid").write_text(f"{victim.pid}\n")
        (tmp_path / "self.pid").write_text(f"{os.getpid()}\n")
        (tmp_path / "init.pid").write_text("1\n")
        kill = {
            "type": "probe",
            "name": "kill-victim",
            "provider": seawall("kill-process", pid_file=str(tmp_path / "victim.pid")),
        }
        refusals = [
            {
                "type": "probe",
                "name": f"kill-{n}",
                "provider": seawall("kill-process", pid_file=str(tmp_path / f"{n}.pid")),
            }
            for n in ("self", "init", "missing")
        ]
        code, journal = run(tmp_path, {"title": "pid files", "method": [kill, *refusals]})
        assert victim.wait(timeout=10) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert code == 0
    runs = {r["name"]: r for r in journal["run"]}
    assert runs["kill-victim"]["status"] == "succeeded"
    assert "refusing to kill pid" in runs["kill-self"]["error"]
    assert "refusing to kill pid 1" in runs["kill-init"]["error"]
    assert "cannot read pid file" in runs["kill-missing"]["error"]


def test_cpu_burn_and_fill_disk_are_bounded_and_refuse_unsafe_paths(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (scratch / "escape").symlink_to(elsewhere / "target.bin")
    (scratch / "precious.db").write_text("data")
    probe = {"type": "probe"}
    doc = {
        "title": "local faults",
        "method": [
            probe | {"name": "burn", "provider": seawall("cpu-burn", workers=2, seconds=0.3)},
            probe
            | {
                "name": "fill",
                "provider": seawall("fill-disk", directory=str(scratch), bytes=3 * 1024 * 1024 + 5),
            },
            probe
            | {
                "name": "escape",
                "provider": seawall("fill-disk", directory=str(scratch), file="escape", bytes=10),
            },
            probe
            | {
                "name": "precious",
                "provider": seawall(
                    "fill-disk", directory=str(scratch), file="precious.db", bytes=10
                ),
            },
            probe
            | {
                "name": "not-a-dir",
                "provider": seawall("fill-disk", directory=str(tmp_path / "nope"), bytes=10),
            },
        ],
    }
    code, journal = run(tmp_path, doc)
    assert code == 0
    runs = {r["name"]: r for r in journal["run"]}
    assert runs["burn"]["status"] == "succeeded"
    assert runs["burn"]["duration"] >= 0.3
    assert runs["fill"]["output"]["bytes_written"] == 3 * 1024 * 1024 + 5
    assert "outside" in runs["escape"]["error"]
    assert not (elsewhere / "target.bin").exists()
    assert "was not written by this run" in runs["precious"]["error"]
    assert (scratch / "precious.db").read_text() == "data"
    assert "is not a directory" in runs["not-a-dir"]["error"]
    # no rollback removed the fill file: the run's cleanup did, and said so
    assert not (scratch / "seawall-fill.bin").exists()
    assert any("fill file" in item for item in journal["cleanup"])
    kinds = [w["kind"] for w in journal["fault_windows"]]
    assert kinds == ["cpu-burn", "fill-disk"]
