"""Smoke test of ``benchmarks/overhead.py``: it runs, and it produces every row.

Only the harness is tested here. The timing targets are deliberately not asserted: a timed
assertion in a unit test is not a benchmark (it is flaky on a loaded CI machine and says
nothing a real run does not). ``make bench`` runs the benchmark and gates on them.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"

# The target comparators must be installed (the ``bench`` extra); the other peers may not be.
for _name in ("tenacity", "backoff", "pybreaker"):
    pytest.importorskip(_name)

# Rows that can never be measured: the library has no such form.
STRUCTURALLY_NA = {
    ("sync", "hyx", "@retry(on=Exception, attempts=3)"),
    ("sync", "hyx", "consecutive_breaker()"),
    ("sync", "hyx", "bulkhead(10, 10)"),
    ("sync", "hyx", "timeout(1.0)"),
    ("async", "pybreaker", "CircuitBreaker()"),
}


@pytest.fixture(scope="module")
def overhead() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("seawall_bench_overhead", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_quick_run_produces_every_row(
    overhead: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "overhead.json"

    status = overhead.main(["--quick", "--json", str(out)])

    assert status in (0, 1)  # 1 only means a target was missed, which is not tested here
    assert gc.isenabled()
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {(r["mode"], r["library"], r["policy"]): r for r in report["rows"]}
    expected = {
        (mode, spec.library, spec.policy)
        for mode in ("sync", "async")
        for spec in overhead.SPECS
        if mode in spec.modes
    }
    assert set(rows) == expected
    installed = report["versions"]
    for key, row in rows.items():
        if key in STRUCTURALLY_NA:
            assert row["status"] == "n/a", key
            assert row["error"], key
        elif installed.get(row["library"]) is not None or row["library"] == "bare":
            assert row["status"] == "ok", (key, row["error"])
            assert len(row["overhead_us"]["samples"]) == report["repeats"] >= 5
    assert [t["number"] for t in report["targets"]] == [1, 1, 1, 1, 2, 2, 2, 3, 4]
    for target in report["targets"]:
        assert target["error"] is None, target
        assert target["ratio"] is not None, target
        assert target["ratio"] > 0, target
        assert target["passed"] == (target["ratio"] <= target["limit"])
    assert report["passed"] == (status == 0)
    cost = report["metrics_cost"]
    assert cost["error"] is None, cost
    assert cost["ratio"] > 0
    assert cost["ratio_generate_latest"] > 0
    assert len(cost["ns"]["plain"]) == len(cost["ns"]["observed"]) == cost["rounds"]
    assert cost["info"]["observed"]["policies"] == 1000

    printed = capsys.readouterr().out
    assert "targets" in printed
    assert "Metrics cost" in printed
    assert printed.count("n/a (") >= len(STRUCTURALLY_NA)


def test_fewer_than_five_repeats_is_refused(overhead: ModuleType) -> None:
    with pytest.raises(SystemExit) as excinfo:
        overhead.main(["--quick", "--repeats", "3"])
    assert excinfo.value.code == 2
