"""A real Chaos Toolkit extension driver, chaostoolkit-toxiproxy, drives a real
``seawall proxy`` process through ``seawall experiment run``: the driver finds the proxy's
control API through the experiment's ``configuration`` (which chaoslib passes to
functions that declare it), adds a latency toxic that makes the hypothesis deviate, and
the rollback - the driver again - removes it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seawall.cli import main
from tests.integration.conftest import need
from tests.integration.experiment.conftest import free_port, wait_until_up


@pytest.fixture(autouse=True)
def _driver_installed() -> None:
    need(
        importlib.util.find_spec("chaostoxi") is not None,
        "the chaostoolkit-toxiproxy dev dependency",
    )


@pytest.fixture
def seawall_proxy(static_site: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``seawall proxy`` in its own process with a proxy ``web`` before the static site;
    yields (control URL, service URL through the proxy)."""
    control, listen = free_port(), free_port()
    upstream = static_site.removeprefix("http://")
    cmd = [sys.executable, "-m", "seawall.cli", "proxy", "--port", str(control)]
    cmd += ["--proxy", "web", f"127.0.0.1:{listen}", upstream]
    log = tmp_path / "proxy.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
    try:
        try:
            wait_until_up(f"http://127.0.0.1:{control}/version", proc)
        except RuntimeError:
            need(False, f"seawall proxy did not start: {log.read_text()}")
        yield f"http://127.0.0.1:{control}", f"http://127.0.0.1:{listen}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def experiment(service: str) -> dict[str, object]:
    driver = "chaostoxi.toxic.actions"
    return {
        "title": "The site answers within a second through its proxy",
        "description": "chaostoolkit-toxiproxy adds 1.5 s of latency; a rollback removes it",
        "configuration": {"toxiproxy_url": "http://127.0.0.1:8474", "service": service},
        "steady-state-hypothesis": {
            "title": "the proxy exists and the site answers in time",
            "probes": [
                {
                    "type": "probe",
                    "name": "proxy-exists",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaostoxi.proxy.probes",
                        "func": "proxy_exist",
                        "arguments": {"proxy_name": "web"},
                    },
                },
                {
                    "type": "probe",
                    "name": "site-answers",
                    "tolerance": 200,
                    "provider": {
                        "type": "http",
                        "url": "${service}/hello.txt",
                        "timeout": [1, 1],
                    },
                },
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "slow-proxy",
                "provider": {
                    "type": "python",
                    "module": driver,
                    "func": "create_latency_toxic",
                    "arguments": {"for_proxy": "web", "toxic_name": "slow", "latency": 1500},
                },
            },
            {"type": "probe", "ref": "proxy-exists"},
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "fast-proxy",
                "provider": {
                    "type": "python",
                    "module": driver,
                    "func": "delete_toxic",
                    "arguments": {"for_proxy": "web", "toxic_name": "slow"},
                },
            }
        ],
    }


def test_the_toxiproxy_driver_deviates_the_run_and_its_rollback_removes_the_toxic(
    seawall_proxy: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control, service = seawall_proxy
    file = tmp_path / "toxiproxy.json"
    file.write_text(json.dumps(experiment(service)))
    assert main(["experiment", "validate", str(file)]) == 0
    out = tmp_path / "run"
    code = main(
        [
            "experiment",
            "run",
            str(file),
            "--out",
            str(out),
            "--no-report",
            "--quiet",
            "--var",
            f"toxiproxy_url={control}",
        ]
    )
    journal = json.loads((out / "journal.json").read_text())
    assert code == 1, journal
    assert (journal["status"], journal["deviated"]) == ("completed", True)
    assert [r["status"] for r in journal["run"]] == ["succeeded", "succeeded"]
    assert journal["run"][0]["output"] is True  # the driver saw the toxic created
    after = journal["steady_states"]["after"]["probes"]
    assert [p["name"] for p in after] == ["proxy-exists", "site-answers"]
    assert "timed out" in after[1]["error"]  # 1.5 s of latency against a 1 s read
    assert [(r["name"], r["status"], r["output"]) for r in journal["rollbacks"]] == [
        ("fast-proxy", "succeeded", True)
    ]
    assert httpx.get(f"{control}/proxies/web/toxics", timeout=2).json() == []
    assert httpx.get(f"{service}/hello.txt", timeout=2).status_code == 200
    assert "site-answers: failed: GET" in capsys.readouterr().err  # the reason, on stderr


def test_without_configuration_the_driver_would_not_find_the_proxy(tmp_path: Path) -> None:
    """The driver needs the configuration passed; a wrong URL fails the action, not seawall."""
    doc = experiment("http://127.0.0.1:9")
    del doc["steady-state-hypothesis"]
    doc["method"] = doc["method"][:1]  # type: ignore[index]
    file = tmp_path / "toxiproxy.json"
    file.write_text(json.dumps(doc))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "seawall.cli",
            "experiment",
            "run",
            str(file),
            "--out",
            str(tmp_path / "run"),
            "--no-report",
            "--quiet",
            "--var",
            f"toxiproxy_url=http://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "slow-proxy: failed" in done.stderr
    assert "Connection refused" in done.stderr or "ConnectionError" in done.stderr
