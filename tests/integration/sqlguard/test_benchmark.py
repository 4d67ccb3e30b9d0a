"""Smoke test of ``benchmarks/sqlguard.py``: it runs against the session's PostgreSQL and
prints every row. The 5 % target is not asserted here: a timed assertion in a test is not
a benchmark; the script itself exits 1 when a full run misses it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "sqlguard.py"


def test_the_benchmark_runs_side_by_side_and_reports_a_ratio(postgres_dsn: str) -> None:
    spec = importlib.util.spec_from_file_location("seawall_bench_sqlguard", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lines: list[str] = []
    code = bench.main(
        ["--dsn", postgres_dsn, "--statements", "200", "--repeats", "1"], out=lines.append
    )
    text = "\n".join(lines)
    assert code in (0, 1)
    for row in ("raw psycopg", "guard()", "guard(max_rows=100)", "check alone", "target"):
        assert row in text
    with pytest.raises(SystemExit):
        bench.main(["--dsn", postgres_dsn, "--statements", "5"], out=lines.append)
