"""docs/chaos.md maps every test of Toxiproxy's ``api_test.go`` to a seawall test that exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# The 34 tests of Toxiproxy's api_test.go (v2), in file order.
API_TESTS = (
    "TestRequestId",
    "TestBrowserGets403",
    "TestNonBrowserGets200",
    "TestIndexWithNoProxies",
    "TestCreateProxyBlankName",
    "TestCreateProxyBlankUpstream",
    "TestPopulateProxy",
    "TestPopulateDefaultEnabled",
    "TestPopulateDisabledProxy",
    "TestPopulateExistingProxy",
    "TestPopulateWithBadName",
    "TestPopulateProxyWithBadDataShouldReturnError",
    "TestPopulateAddToxic",
    "TestListingProxies",
    "TestCreateAndGetProxy",
    "TestCreateProxyWithSave",
    "TestCreateDisabledProxy",
    "TestCreateDisabledProxyAndEnable",
    "TestDeleteProxy",
    "TestCreateProxyPortConflict",
    "TestCreateProxyNameConflict",
    "TestResetState",
    "TestListingToxics",
    "TestAddToxic",
    "TestAddMultipleToxics",
    "TestAddConflictingToxic",
    "TestAddConflictingToxicsMultistream",
    "TestAddConflictingToxicsMultistreamDefaults",
    "TestAddToxicWithToxicity",
    "TestAddNoop",
    "TestUpdateToxics",
    "TestRemoveToxic",
    "TestVersionEndpointReturnsVersion",
    "TestInvalidStream",
)
_ROW = re.compile(r"^\| `(Test\w+)` \| (.*) \| (.*) \|$")
_NODE = re.compile(r"`(tests/[\w/]+\.py::\w+)`")


def _table() -> dict[str, tuple[list[str], str]]:
    text = (ROOT / "docs" / "chaos.md").read_text(encoding="utf-8")
    rows: dict[str, tuple[list[str], str]] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            name, tests, note = match.groups()
            assert name not in rows, f"{name} is in the table twice"
            rows[name] = (_NODE.findall(tests), note.strip())
    return rows


def test_the_table_names_every_api_test_once() -> None:
    assert len(API_TESTS) == 34
    assert sorted(_table()) == sorted(API_TESTS)


def test_every_row_names_a_test_or_a_documented_difference() -> None:
    for name, (tests, note) in _table().items():
        assert tests or note.startswith("difference:"), name


def test_every_named_seawall_test_is_collected() -> None:
    nodes = sorted({node for tests, _ in _table().values() for node in tests})
    assert nodes
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *nodes],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line for line in result.stdout.splitlines() if "::" in line}
    assert collected == set(nodes)
