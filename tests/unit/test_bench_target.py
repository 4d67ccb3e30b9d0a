"""``make bench`` runs every edge benchmark, each cut at a time limit."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match is not None, f"no {target} target"
    return [line.strip() for line in match.group(1).splitlines()]


def test_make_bench_runs_the_edge_benchmarks_each_bounded() -> None:
    recipe = _recipe("bench")
    for name in ("requests_overhead", "wsgi_overhead", "grpc_overhead"):
        (line,) = [line for line in recipe if name in line]
        assert line.startswith("timeout $(BENCH_LIMIT) "), line
        assert (ROOT / "benchmarks" / f"{name}.py").exists()
    assert any("benchmarks/overhead.py" in line for line in recipe)
