"""A synthetic journal with load, faults and every phase: what a real run of the shop
under a latency toxic and a kill looks like, without running one."""

from __future__ import annotations

from typing import Any


def _second(t: int) -> dict[str, Any]:
    slow = 3 <= t < 7  # the latency toxic
    down = 8 <= t < 10  # the process was killed
    requests = 50
    errors = 50 if down else (4 if slow else 0)
    return {
        "t": t,
        "requests": requests,
        "ok": requests - errors,
        "errors": errors,
        "dropped": 0,
        "p50_ms": None if down else (210.0 if slow else 12.0 + t % 3),
        "p99_ms": None if down else (480.0 if slow else 30.0 + t % 4),
    }


def _run(name: str, phase: str, t0: float, t1: float, status: str = "succeeded") -> dict[str, Any]:
    return {
        "name": name,
        "type": "probe" if phase in ("before", "after") else "action",
        "phase": phase,
        "provider": "seawall",
        "description": name,
        "status": status,
        "t_start": t0,
        "t_end": t1,
        "duration": t1 - t0,
        "start": f"2026-05-04T10:00:{int(t0):02d}.000Z",
        "end": f"2026-05-04T10:00:{int(t1):02d}.000Z",
        "output": {"status": 200} if status == "succeeded" else None,
        "error": None if status == "succeeded" else "GET http://127.0.0.1:1/ timed out after 1s",
    }


def sample_journal() -> dict[str, Any]:
    series = [_second(t) for t in range(14)]
    after = _run("home-ok", "after", 14.2, 15.2, "failed") | {"tolerance_met": False}
    return {
        "seawall_journal": 1,
        "title": "Checkout survives a slow ledger",
        "description": "Latency on the ledger proxy, then the ledger is killed.",
        "source": "examples/experiments/sample.yaml",
        "experiment": {
            "title": "Checkout survives a slow ledger",
            "steady-state-hypothesis": {"title": "checkout answers"},
        },
        "status": "deviated",
        "deviated": True,
        "error": None,
        "start": "2026-05-04T10:00:00.000Z",
        "end": "2026-05-04T10:00:16.000Z",
        "duration": 16.0,
        "steady_states": {
            "before": {
                "steady_state_met": True,
                "probes": [_run("home-ok", "before", 0.0, 0.1) | {"tolerance_met": True}],
            },
            "after": {"steady_state_met": False, "probes": [after]},
        },
        "run": [
            _run("load", "method", 0.2, 14.1),
            _run("add-latency", "method", 3.2, 3.3),
            _run("kill-ledger", "method", 8.2, 8.3),
        ],
        "rollbacks": [
            _run("remove-latency", "rollback", 15.3, 15.4),
            _run("restart-ledger", "rollback", 15.4, 15.9),
        ],
        "fault_windows": [
            {
                "key": "toxic:ledger/latency_downstream",
                "label": "latency on ledger (downstream)",
                "kind": "proxy-toxic",
                "start": 3.2,
                "end": 7.2,
            },
            {
                "key": "process:ledger",
                "label": "process ledger killed",
                "kind": "kill-process",
                "start": 8.2,
                "end": 10.2,
            },
        ],
        "load": [
            {
                "name": "checkout",
                "url": "http://127.0.0.1:1/",
                "rate": 50,
                "duration": 14,
                "start": 0.2,
                "series": series,
                "summary": {
                    "requests": 700,
                    "ok": 584,
                    "errors": 116,
                    "error_rate": 0.165714,
                    "throughput_rps": 41.7,
                    "p50_ms": 13.0,
                    "p90_ms": 210.0,
                    "p99_ms": 480.0,
                    "max_ms": 512.0,
                },
            },
        ],
        "events": [
            {
                "t": 0.0,
                "at": "2026-05-04T10:00:00.000Z",
                "kind": "experiment-start",
                "message": "experiment started",
            },
            {
                "t": 3.2,
                "at": "2026-05-04T10:00:03.200Z",
                "kind": "fault-start",
                "message": "fault started: latency on ledger (downstream)",
            },
            {
                "t": 16.0,
                "at": "2026-05-04T10:00:16.000Z",
                "kind": "experiment-end",
                "message": "experiment ended: deviated | with a pipe",
            },
        ],
        "cleanup": [],
    }
