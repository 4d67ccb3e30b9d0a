"""The code in docs/simulation.md runs as written (with a shorter horizon where noted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "simulation.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_its_examples() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.parametrize("block", BLOCKS, ids=["contract", "own-service"])
def test_each_example_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = block.replace("until=50_000.0", "until=500.0").replace("until=120.0", "until=20.0")
    exec(compile(code, str(DOC), "exec"), {})
    assert capsys.readouterr().out
