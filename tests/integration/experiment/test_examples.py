"""The shipped examples, run as documented against a real service behind seawall's
Toxiproxy-compatible proxy: one holds (exit 0), one deviates (exit 1) and its rollback
removes the toxic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.cli import main
from tests.integration.experiment.conftest import EXAMPLES, Proxied

pytestmark = pytest.mark.integration


def run(example: str, site: Proxied, out: Path, *extra: str) -> int:
    return main(
        [
            "experiment",
            "run",
            str(EXAMPLES / example),
            "--out",
            str(out),
            "--quiet",
            "--var",
            f"service={site.service}",
            "--var",
            f"control={site.control}",
            *extra,
        ]
    )


def test_the_holding_example_exits_0(proxied_site: Proxied, tmp_path: Path) -> None:
    out = tmp_path / "holds"
    assert run("holds.yaml", proxied_site, out, "--var", f"scratch={tmp_path}") == 0
    journal = json.loads((out / "journal.json").read_text())
    assert journal["status"] == "completed"
    kinds = sorted(w["kind"] for w in journal["fault_windows"])
    assert kinds == ["cpu-burn", "fill-disk", "proxy-toxic"]
    assert all(w["end"] is not None for w in journal["fault_windows"])
    assert not (tmp_path / "seawall-holds-fill.bin").exists()  # the rollback removed it
    assert proxied_site.toxics() == []
    [load] = journal["load"]
    assert load["summary"]["requests"] == 120  # 20 req/s for 6 s, open loop
    assert load["summary"]["errors"] == 0
    slow = [p["p50_ms"] for p in load["series"][2:5]]
    assert all(v is not None and v >= 100 for v in slow)  # the latency toxic was real
    assert (out / "report.html").stat().st_size > 30_000


def test_the_deviating_example_exits_1_and_its_rollback_removed_the_toxic(
    proxied_site: Proxied, tmp_path: Path
) -> None:
    out = tmp_path / "deviates"
    assert run("deviates.json", proxied_site, out) == 1
    journal = json.loads((out / "journal.json").read_text())
    assert (journal["status"], journal["deviated"]) == ("completed", True)  # chaos's terms
    [probe] = journal["steady_states"]["after"]["probes"]
    assert "timed out" in probe["error"]
    assert [(r["name"], r["status"]) for r in journal["rollbacks"]] == [
        ("remove-latency", "succeeded")
    ]
    assert proxied_site.toxics() == []
    [window] = journal["fault_windows"]
    assert window["label"] == "latency on web (downstream)"
    assert window["end"] is not None


def test_proxy_lifecycle_actions(proxied_site: Proxied, tmp_path: Path) -> None:
    from tests.integration.experiment.conftest import free_port

    listen = free_port()
    upstream = proxied_site.service.removeprefix("http://")
    seawall = {"type": "seawall", "control_url": proxied_site.control}
    api = f"http://127.0.0.1:{listen}/"
    doc = {
        "title": "proxy lifecycle",
        "method": [
            {
                "type": "action",
                "name": "create",
                "provider": seawall
                | {
                    "action": "proxy-create",
                    "proxy": "api",
                    "listen": f"127.0.0.1:{listen}",
                    "upstream": upstream,
                },
            },
            {
                "type": "probe",
                "name": "through-api",
                "tolerance": 200,
                "provider": {"type": "http", "url": api, "timeout": 2},
            },
            {
                "type": "action",
                "name": "disable",
                "provider": seawall | {"action": "proxy-disable", "proxy": "api"},
            },
            {
                "type": "probe",
                "name": "api-down",
                "provider": {"type": "http", "url": api, "timeout": 1},
            },
            {
                "type": "action",
                "name": "enable",
                "provider": seawall | {"action": "proxy-enable", "proxy": "api"},
            },
            {
                "type": "action",
                "name": "bad-toxic",
                "provider": seawall
                | {"action": "proxy-toxic", "proxy": "no-such-proxy", "toxic": {"type": "timeout"}},
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "delete",
                "provider": seawall | {"action": "proxy-delete", "proxy": "api"},
            },
            {"type": "action", "name": "reset", "provider": seawall | {"action": "proxy-reset"}},
        ],
    }
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert main(["experiment", "run", str(path), "--out", str(out), "--quiet", "--no-report"]) == 1
    journal = json.loads((out / "journal.json").read_text())
    statuses = {r["name"]: r["status"] for r in journal["run"]}
    assert statuses == {
        "create": "succeeded",
        "through-api": "succeeded",
        "disable": "succeeded",
        "api-down": "failed",
        "enable": "succeeded",
        "bad-toxic": "failed",
    }
    bad = next(r for r in journal["run"] if r["name"] == "bad-toxic")
    assert "404" in bad["error"]  # the control API's answer, passed on
    assert journal["status"] == "failed"  # a fault that could not be injected proves nothing
    assert [w["label"] for w in journal["fault_windows"]] == ["api disabled"]
    assert "api" not in proxied_site.server.proxies()
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
