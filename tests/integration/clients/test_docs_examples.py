"""The examples of docs/integrations.md run as written, against the real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"
# The HTTP clients' examples come first; the servers' and gRPC's are run by
# tests/integration/test_integrations_doc.py.
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)[:2]


@pytest.mark.parametrize("source", EXAMPLES, ids=["requests", "aiohttp"])
def test_the_example_runs(
    source: str, recorder: tuple[str, Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url, app, _ = recorder
    code = [line for line in source.splitlines() if line.strip()]
    assert len(code) <= 12  # a ten-line example, give or take an import
    before = len(app.seen["charges"])
    exec(compile(source.replace("http://127.0.0.1:8000", url), str(DOC), "exec"), {})
    assert len(app.seen["charges"]) == before + 1
    assert "idempotency-key" in app.seen["charges"][-1]
    assert capsys.readouterr().out
