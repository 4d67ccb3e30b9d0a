"""Every tolerance form Chaos Toolkit documents gives the verdict chaoslib's own
``within_tolerance`` gives, both ways (met and not met); where chaoslib crashes or answers
wrongly, seawall's documented answer holds instead."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest

from seawall.experiment import parse_experiment, within_tolerance

try:
    import chaoslib.hypothesis as chaoslib_hypothesis
except ImportError:  # pragma: no cover - the dev extra installs it; CI must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("chaostoolkit-lib (the dev extra) is not installed", allow_module_level=True)

M = "tests.unit.experiment.tolerance_probes"
BODY = {"foo": [{"baz": "hello"}, {"baz": "bonjour"}]}
OTHER = {"foo": [{"baz": "hello"}, {"qux": "salut"}]}
PATH = "$.foo.*[?(@.baz)].baz"


def http(status: int, body: Any = "") -> dict[str, Any]:
    return {"status": status, "headers": {"content-type": "application/json"}, "body": body}


def process(status: int, stdout: str = "") -> dict[str, Any]:
    return {"status": status, "stdout": stdout, "stderr": ""}


PROBE = {
    "type": "probe",
    "name": "search-text",
    "provider": {
        "type": "python",
        "module": M,
        "func": "search_text",
        "arguments": {"search_for": "welcome=hello"},
    },
}

# (form, tolerance, met output, not-met output): one row per form on the tolerance page.
FORMS: list[tuple[str, Any, Any, Any]] = [
    ("boolean from a python probe", True, True, False),
    ("integer: a process's exit code", 0, process(0), process(1)),
    ("integer: an http status", 200, http(200), http(503)),
    ("string", "hello", "hello", "bonjour"),
    ("list of values", ["hello", "bonjour", "hallo"], "hallo", "ciao"),
    ("list of statuses, http output", [200, 201, 204], http(201), http(500)),
    ("range", {"type": "range", "range": [6.4, 7.5]}, 7.0, 7.6),
    ("regex", {"type": "regex", "pattern": "^welcome=hello$"}, "welcome=hello", "welcome=bye"),
    (
        "regex on a process's stdout",
        {"type": "regex", "pattern": "welcome=hello", "target": "stdout"},
        process(0, "lang\nwelcome=hello\n"),
        process(0, "welcome=bonjour\n"),
    ),
    ("jsonpath, any match", {"type": "jsonpath", "path": PATH}, BODY, {"foo": [{"qux": 1}]}),
    (
        "jsonpath expect on an http body",
        {"type": "jsonpath", "path": PATH, "expect": ["hello", "bonjour"], "target": "body"},
        http(200, BODY),
        http(200, OTHER),
    ),
    (
        "jsonpath count on an http body (JSON text)",
        {"type": "jsonpath", "path": PATH, "count": 2, "target": "body"},
        http(200, json.dumps(BODY)),
        http(200, json.dumps(OTHER)),
    ),
    (
        "jsonpath expect on a python mapping",
        {"type": "jsonpath", "path": PATH, "expect": ["hello", "bonjour"]},
        BODY,
        OTHER,
    ),
    (
        "jsonpath count on a python mapping",
        {"type": "jsonpath", "path": PATH, "count": 2},
        BODY,
        OTHER,
    ),
    ("probe", PROBE, process(0, "welcome=hello\n"), process(0, "welcome=bonjour\n")),
]

CASES = [
    pytest.param(tolerance, value, met, id=f"{form} - {'met' if met else 'not met'}")
    for form, tolerance, good, bad in FORMS
    for value, met in ((good, True), (bad, False))
]


def chaoslib_verdict(tolerance: Any, value: Any) -> bool:
    tolerance = copy.deepcopy(tolerance)  # chaoslib writes the value into a probe's arguments
    return bool(chaoslib_hypothesis.within_tolerance(tolerance, value, {}, {}))


def test_the_table_covers_the_documented_forms_both_ways() -> None:
    assert len(CASES) >= 26
    kinds = {t.get("type") if isinstance(t, dict) else type(t).__name__ for _, t, _, _ in FORMS}
    assert kinds == {"bool", "int", "str", "list", "range", "regex", "jsonpath", "probe"}


@pytest.mark.parametrize(("tolerance", "value", "met"), CASES)
def test_seawall_gives_chaoslibs_verdict(tolerance: Any, value: Any, met: bool) -> None:
    assert chaoslib_verdict(tolerance, value) is met  # the table is right about chaoslib
    verdict, reason = within_tolerance(tolerance, value)
    assert verdict is met, reason


@pytest.mark.parametrize(("form", "tolerance", "good", "bad"), FORMS, ids=[f[0] for f in FORMS])
def test_every_documented_form_validates_in_an_experiment(
    form: str, tolerance: Any, good: Any, bad: Any
) -> None:
    experiment = {
        "title": form,
        "steady-state-hypothesis": {
            "title": "t",
            "probes": [
                {
                    "type": "probe",
                    "name": "p",
                    "tolerance": tolerance,
                    "provider": {"type": "python", "module": M, "func": "search_text"},
                }
            ],
        },
        "method": [{"ref": "p"}],
    }
    parsed = parse_experiment(json.dumps(experiment), "exp.json")
    assert parsed.hypothesis is not None
    assert parsed.hypothesis.probes[0].tolerance == tolerance


# Where chaoslib is wrong or crashes, seawall keeps its documented answer (docs/experiments.md).
DIFFERENCES = [
    # a float tolerance: chaoslib has no rule for float and never matches
    pytest.param(0.5, 0.5, True, False, id="float tolerance"),
    # a two-item list of strings is a set of values by the spec; chaoslib compares a range
    pytest.param(["hello", "bonjour"], "hello", True, False, id="two-item list of strings"),
    # true matches booleans only; chaoslib takes 1 == True
    pytest.param(True, 1, False, True, id="true against 1"),
]


@pytest.mark.parametrize(("tolerance", "value", "ours", "chaoslibs"), DIFFERENCES)
def test_documented_differences(tolerance: Any, value: Any, ours: bool, chaoslibs: bool) -> None:
    assert chaoslib_verdict(tolerance, value) is chaoslibs
    assert within_tolerance(tolerance, value)[0] is ours


@pytest.mark.parametrize(
    ("tolerance", "value"),
    [
        ({"type": "range", "range": [0, 1]}, None),  # chaoslib: TypeError from Decimal(None)
        ({"type": "regex", "pattern": "x", "target": "stdout"}, 42),  # chaoslib: AttributeError
    ],
)
def test_where_chaoslib_crashes_seawall_says_not_met_with_a_reason(
    tolerance: Any, value: Any
) -> None:
    with pytest.raises(Exception):  # noqa: B017 - chaoslib's own crash
        chaoslib_verdict(tolerance, value)
    met, reason = within_tolerance(tolerance, value)
    assert met is False
    assert reason


def test_a_failing_tolerance_probe_is_not_met_with_its_reason() -> None:
    probe = copy.deepcopy(PROBE)
    probe["provider"]["func"] = "explode"
    probe["provider"]["arguments"] = {}
    met, reason = within_tolerance(probe, "anything")
    assert met is False
    assert "the checker is down" in reason
    assert chaoslib_verdict(probe, "anything") is False
