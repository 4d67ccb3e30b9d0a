"""Smoke test of ``benchmarks/sim.py``: it runs both rows on the same model.

Only the harness is tested: the speed target is checked by running the benchmark
(a timed assertion in a unit test would be flaky on a loaded machine).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("simpy")

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "sim.py"


def test_both_rows_run_the_same_model_and_report_a_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location("seawall_bench_sim", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "sim.json"
    status = module.main(["--until", "300", "--repeats", "1", "--json", str(out)])
    assert status in (0, 1)
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert len(rows) == 3
    for row in rows.values():
        assert row["customers_per_s"] > 0
        assert row["events_per_s"] > row["customers_per_s"]
    for name in list(rows)[:2]:  # the standard() row runs too few customers for this
        assert 0.1 < rows[name]["mean_wait"] < 0.4  # Erlang C: 0.20459
    assert report["standard_ratio"] > 0
    assert "ratio seawall.sim / SimPy" in capsys.readouterr().out


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("seawall_bench_sim_flags", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--until", "-5"]) == 2
    assert "--until" in capsys.readouterr().err
