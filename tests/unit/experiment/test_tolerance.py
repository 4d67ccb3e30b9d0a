"""Tolerances follow Chaos Toolkit's rules, and never raise on a surprising output."""

from __future__ import annotations

from typing import Any

import pytest

from seawall.experiment import within_tolerance

HTTP_OK = {"status": 200, "headers": {}, "body": {"items": [{"id": 1}, {"id": 2}], "ok": True}}
PROCESS_FAILED = {"status": 3, "stdout": "disk 91% full\n", "stderr": ""}


@pytest.mark.parametrize(
    ("tolerance", "value", "met"),
    [
        (True, True, True),
        (True, False, False),
        (True, 1, False),  # a boolean tolerance wants a boolean
        (200, HTTP_OK, True),  # an http probe is compared by its status
        (503, HTTP_OK, False),
        (0, PROCESS_FAILED, False),  # a process probe by its exit code
        (3, PROCESS_FAILED, True),
        (42, 42, True),
        (42, 42.0, True),
        (42, "42", False),
        ("up", "up", True),
        ("up", "down", False),
        ([200, 204], HTTP_OK, True),  # with a status: membership, as Chaos Toolkit
        ([201, 204], HTTP_OK, False),
        ([0, 10], 10, True),  # a number pair is an inclusive range
        ([0, 10], 0, True),
        ([0, 10], 10.5, False),
        ([0, 10], "5", True),
        ([0, 10], "five", False),
        (["a", "b", "c"], "b", True),
        (["a", "b", "c"], "d", False),
        ({"type": "regex", "pattern": r"\d+% full"}, "disk 91% full", True),
        ({"type": "regex", "pattern": "^ok", "target": "stdout"}, PROCESS_FAILED, False),
        ({"type": "regex", "pattern": "91%", "target": "stdout"}, PROCESS_FAILED, True),
        ({"type": "regex", "pattern": "x"}, HTTP_OK, False),  # not text: not met, no crash
        ({"type": "jsonpath", "path": "$.body.ok", "expect": True}, HTTP_OK, True),
        ({"type": "jsonpath", "path": "$.body.items[*].id", "expect": [1, 2]}, HTTP_OK, True),
        ({"type": "jsonpath", "path": "$.body.items[*].id", "count": 2}, HTTP_OK, True),
        ({"type": "jsonpath", "path": "$.body.items[*].id", "count": 3}, HTTP_OK, False),
        ({"type": "jsonpath", "path": "$.ok", "target": "body"}, HTTP_OK, True),
        ({"type": "jsonpath", "path": "$.missing"}, HTTP_OK, False),
        ({"type": "jsonpath", "path": "$.a", "expect": 1}, '{"a": 1}', True),  # JSON text
        ({"type": "jsonpath", "path": "$.a", "expect": 1}, "not json", False),
        ({"type": "range", "range": [0.5, 1.5]}, 1.0, True),
        ({"type": "range", "range": [0.5, 1.5], "target": "load"}, {"load": 2}, False),
        ({"type": "range", "range": [0, 1]}, None, False),
    ],
)
def test_tolerance_rules(tolerance: Any, value: Any, met: bool) -> None:
    got, reason = within_tolerance(tolerance, value)
    assert got is met, reason
    assert reason


def test_the_reason_says_what_was_compared() -> None:
    met, reason = within_tolerance(200, {"status": 503})
    assert not met
    assert "503" in reason
    assert "200" in reason
