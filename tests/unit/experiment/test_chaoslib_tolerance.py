"""Every tolerance example on Chaos Toolkit's tolerance page ("Learn all about
Steady-State Hypothesis Tolerances") gives the verdict chaoslib's own ``within_tolerance``
gives, both ways (met and not met); where chaoslib crashes or answers wrongly, seawall's
documented answer holds instead."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from seawall.experiment import parse_experiment, within_tolerance

try:
    import chaoslib.hypothesis as chaoslib_hypothesis
except ImportError:  # pragma: no cover - the dev extra installs it; CI must not skip
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("chaostoolkit-lib (the dev extra) is not installed", allow_module_level=True)

M = "tests.unit.experiment.tolerance_probes"
HERE = __name__
BODY = {"foo": [{"baz": "hello"}, {"baz": "bonjour"}]}
OTHER = {"foo": [{"baz": "hello"}, {"qux": "salut"}]}
PATH = "$.foo.*[?(@.baz)].baz"
JSON_HEADERS = {"Content-Type": "application/json"}


def at_least_two_ready(value: dict[str, Any]) -> bool:
    """A tolerance probe: chaoslib and seawall pass the probe's output as ``value``."""
    return int(value.get("ready", 0)) >= 2


def http(status: int, body: Any = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"status": status, "headers": headers or JSON_HEADERS, "body": body}


def process(status: int, stdout: str = "", stderr: str = "") -> dict[str, Any]:
    return {"status": status, "stdout": stdout, "stderr": stderr}


SEARCH_TEXT = {
    "type": "probe",
    "name": "search-text",
    "provider": {
        "type": "python",
        "module": M,
        "func": "search_text",
        "arguments": {"search_for": "welcome=hello"},
    },
}


@dataclass(frozen=True)
class Form:
    """One tolerance example of the page, with an output that meets it and one that does not.

    ``chaoslib`` is ``"same"`` when chaoslib gives the verdicts, ``"crashes"`` when it
    raises on both outputs and seawall answers as the page describes instead.
    """

    name: str
    tolerance: Any
    met: Any
    not_met: Any
    chaoslib: Literal["same", "crashes"] = "same"


# The page's examples, in its order; an example the page repeats in a later section
# (the basic experiment's `true` and `0` reappear under "Common scenarios", `0` again
# under "Advanced Scenarios"; the bullet "boolean: true" is the same `true`) counts once.
FORMS: list[Form] = [
    # Let's get started with a basic example / Common scenarios
    Form("lookup-lang-file: true on a boolean Python probe", True, True, False),
    Form("lookup-text-in-lang-file: 0, a process's exit code", 0, process(0), process(1)),
    Form("exit code: 1 when an error is expected", 1, process(1), process(0)),
    Form("resource-must-exist: 200, an HTTP status", 200, http(200), http(404)),
    # Built-in supported tolerances
    Form("boolean: false", False, False, True),
    Form("integer: positive", 3, 3, 2),
    Form("integer: negative", -1, -1, 1),
    Form("string", "hello", "hello", "bonjour"),
    Form("list: values compared by value", ["hello", "bonjour", "hallo"], "hallo", "ciao"),
    Form("range: [6.4, 7.5]", {"type": "range", "range": [6.4, 7.5]}, 7.0, 7.6),
    Form("range: inclusive bounds", {"type": "range", "range": [6.4, 7.5]}, 6.4, 6.39),
    Form(
        "regex: ^welcome=hello$ on stdout",
        {"type": "regex", "target": "stdout", "pattern": "^welcome=hello$"},
        process(0, "welcome=hello\n"),
        process(0, "lang=en\nwelcome=hello\n"),
    ),
    Form(
        "regex: process, default target status",
        {"type": "regex", "pattern": "^0$"},
        process(0),
        process(2),
        chaoslib="crashes",
    ),
    Form(
        "regex: process, target stderr",
        {"type": "regex", "pattern": "denied", "target": "stderr"},
        process(1, "", "permission denied"),
        process(0, "denied", ""),
    ),
    Form(
        "regex: http, default target status",
        {"type": "regex", "pattern": r"^2\d\d$"},
        http(204),
        http(503),
        chaoslib="crashes",
    ),
    Form(
        "regex: http, target headers",
        {"type": "regex", "pattern": "Content-Type: application/json", "target": "headers"},
        http(200),
        http(200, headers={"Content-Type": "text/html"}),
        chaoslib="crashes",
    ),
    Form(
        "regex: http, target body",
        {"type": "regex", "pattern": "welcome=hello", "target": "body"},
        http(200, "welcome=hello"),
        http(200, "welcome=bonjour"),
    ),
    Form(
        "regex: python, a raw string",
        {"type": "regex", "pattern": "welcome=hello"},
        "lang=en welcome=hello",
        "welcome=bonjour",
    ),
    Form("jsonpath: path only", {"type": "jsonpath", "path": PATH}, BODY, {"foo": [{"qux": 1}]}),
    Form(
        "probe: a Python tolerance probe given value",
        {
            "type": "probe",
            "name": "enough-replicas",
            "provider": {
                "type": "python",
                "module": HERE,
                "func": "at_least_two_ready",
                "arguments": {},
            },
        },
        {"ready": 2},
        {"ready": 1},
    ),
    # Specific scenarios
    Form(
        "lookup-text-in-lang-file: regex welcome=hello on stdout",
        {"type": "regex", "pattern": "welcome=hello", "target": "stdout"},
        process(0, "lang\nwelcome=hello\n"),
        process(0, "welcome=bonjour\n"),
    ),
    Form(
        "resource-must-exist: jsonpath expect on an http body",
        {"type": "jsonpath", "path": PATH, "expect": ["hello", "bonjour"], "target": "body"},
        http(200, BODY),
        http(200, OTHER),
    ),
    Form(
        "resource-must-exist: jsonpath count on an http body (JSON text)",
        {"type": "jsonpath", "path": PATH, "count": 2, "target": "body"},
        http(200, json.dumps(BODY)),
        http(200, json.dumps(OTHER)),
    ),
    Form(
        "resource-must-exist: jsonpath expect on a python mapping",
        {"type": "jsonpath", "path": PATH, "expect": ["hello", "bonjour"]},
        BODY,
        OTHER,
    ),
    Form(
        "resource-must-exist: jsonpath count on a python mapping",
        {"type": "jsonpath", "path": PATH, "count": 2},
        BODY,
        OTHER,
    ),
    # Advanced Scenarios
    Form(
        "search-text: probe tolerance on a process's output",
        SEARCH_TEXT,
        process(0, "welcome=hello\n"),
        process(0, "welcome=bonjour\n"),
    ),
]

DOCUMENTED_FORMS = 26  # distinct tolerance examples on the page

CASES = [
    pytest.param(form, value, met, id=f"{form.name} - {'met' if met else 'not met'}")
    for form in FORMS
    for value, met in ((form.met, True), (form.not_met, False))
]


def chaoslib_verdict(tolerance: Any, value: Any) -> bool:
    tolerance = copy.deepcopy(tolerance)  # chaoslib writes the value into a probe's arguments
    return bool(chaoslib_hypothesis.within_tolerance(tolerance, value, {}, {}))


def test_the_table_has_every_form_the_page_documents_both_ways() -> None:
    assert len(FORMS) == DOCUMENTED_FORMS
    assert len(CASES) == 2 * DOCUMENTED_FORMS
    assert len({form.name for form in FORMS}) == DOCUMENTED_FORMS
    kinds = {
        f.tolerance.get("type") if isinstance(f.tolerance, dict) else type(f.tolerance).__name__
        for f in FORMS
    }
    assert kinds == {"bool", "int", "str", "list", "range", "regex", "jsonpath", "probe"}


@pytest.mark.parametrize(("form", "value", "met"), CASES)
def test_seawall_gives_chaoslibs_verdict(form: Form, value: Any, met: bool) -> None:
    if form.chaoslib == "same":
        assert chaoslib_verdict(form.tolerance, value) is met  # the table is right about chaoslib
    else:
        with pytest.raises(TypeError):  # chaoslib's own crash; seawall answers as the page says
            chaoslib_verdict(form.tolerance, value)
    verdict, reason = within_tolerance(form.tolerance, value)
    assert verdict is met, reason
    assert reason


@pytest.mark.parametrize("form", FORMS, ids=[f.name for f in FORMS])
def test_every_documented_form_validates_in_an_experiment(form: Form) -> None:
    experiment = {
        "title": form.name,
        "steady-state-hypothesis": {
            "title": "t",
            "probes": [
                {
                    "type": "probe",
                    "name": "p",
                    "tolerance": form.tolerance,
                    "provider": {"type": "python", "module": M, "func": "search_text"},
                }
            ],
        },
        "method": [{"ref": "p"}],
    }
    parsed = parse_experiment(json.dumps(experiment), "exp.json")
    assert parsed.hypothesis is not None
    assert parsed.hypothesis.probes[0].tolerance == form.tolerance


# Outputs the page's forms meet in practice beyond its examples: a list of statuses.
@pytest.mark.parametrize(("value", "met"), [(http(201), True), (http(500), False)])
def test_a_list_of_statuses_on_an_http_output(value: Any, met: bool) -> None:
    assert chaoslib_verdict([200, 201, 204], value) is met
    assert within_tolerance([200, 201, 204], value)[0] is met


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


def test_a_tolerance_probe_without_arguments_is_called() -> None:
    # the page's generic probe form shows no `arguments`; chaoslib then fails to set `value`
    probe: dict[str, Any] = {
        "type": "probe",
        "provider": {"type": "python", "module": HERE, "func": "at_least_two_ready"},
    }
    with pytest.raises(KeyError):
        chaoslib_verdict(probe, {"ready": 2})
    assert within_tolerance(probe, {"ready": 2})[0] is True
    assert within_tolerance(probe, {"ready": 1})[0] is False


def test_a_failing_tolerance_probe_is_not_met_with_its_reason() -> None:
    probe = copy.deepcopy(SEARCH_TEXT)
    probe["provider"]["func"] = "explode"
    probe["provider"]["arguments"] = {}
    met, reason = within_tolerance(probe, "anything")
    assert met is False
    assert "the checker is down" in reason
    assert chaoslib_verdict(probe, "anything") is False
