"""The judge reading services' /metrics directly, with real requests on loopback."""

from __future__ import annotations

import threading

import pytest

from seawall.cli import main
from seawall.gameday._rollout import _load, canary_rollouts
from seawall.gameday._versions import Version


@pytest.mark.parametrize(("error_ratio", "code"), [(0.0, 0), (0.05, 1)])
def test_cli_direct_mode_exit_code(
    error_ratio: float, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    with Version("baseline") as baseline, Version("canary", error_ratio=error_ratio) as canary:
        stop = threading.Event()
        loaders = [
            threading.Thread(target=_load, args=(v.url, stop), daemon=True)
            for v in (baseline, canary)
        ]
        for thread in loaders:
            thread.start()
        try:
            argv = [
                *("canary", "judge", "--baseline-url", f"{baseline.url}/metrics"),
                *("--canary-url", f"{canary.url}/metrics", "--samples", "8", "--interval", "0.25"),
            ]
            assert main(argv) == code, capsys.readouterr().out
        finally:
            stop.set()
            for thread in loaders:
                thread.join(timeout=5)
    assert capsys.readouterr().out.startswith(f"verdict: {'promote' if code == 0 else 'rollback'}")


def test_game_day_rollout_verdicts_are_right() -> None:
    rollouts = canary_rollouts(seed=3)
    assert [r.judgement.verdict for r in rollouts] == ["promote", "rollback"]
    assert all(r.correct for r in rollouts)
