"""The timeout-budget checker: "always shorter going down", retries counted."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawall._errors import ConfigError
from seawall._formats._yaml import load_text
from seawall.cli import main
from seawall.kube import check_budget, generate, load_graph, spec_from_text, to_yaml
from seawall.kube._budget import allowed_downstream
from seawall.kube._graph import MAX_ATTEMPTS, graph_from_document
from tests.kube.conftest import SHOP


def _check(text: str, source: str = "graph.yaml"):  # type: ignore[no-untyped-def]
    [doc] = load_text(text, source)
    return check_budget(graph_from_document(doc))


SEED = """\
services:
  user-edge:
    budget: 5
    calls:
      - service: checkout
        timeout: 4.5
  checkout:
    budget: 4.5
"""

INVERTED = """\
services:
  checkout:
    budget: 5
    calls:
      - service: payments
  payments:
    budget: 10
"""

CHAIN = """\
services:
  a:
    budget: 10
    calls: [{service: b, timeout: 1, attempts: 3, backoff: [0.1]RB}]
  b:
    budget: 1
    calls: [{service: c, timeout: 0.25, attempts: 3, backoff: 0.01RB}]
  c:
    budget: 0.25
    calls: [{service: d, timeout: 0.06, attempts: 3, backoff: [0.001]RB}]
  d:
    budget: 0.06
"""


def test_the_reserve_is_ten_percent_and_at_least_50ms() -> None:
    assert allowed_downstream(5.0) == pytest.approx(4.5)
    assert allowed_downstream(0.2) == pytest.approx(0.15)


def test_the_seed_example_passes() -> None:
    report = _check(SEED)
    assert report.findings == ()
    assert report.exit_code == 0
    [edge] = report.edges
    assert (edge.worst_case, edge.allowed) == (pytest.approx(4.5), pytest.approx(4.5))


def test_an_inverted_graph_fails_naming_the_edge_and_its_line() -> None:
    report = _check(INVERTED)
    [finding] = report.findings
    assert finding.rule_id == "SW201"
    assert finding.resource == "checkout -> payments"
    assert finding.line == 5
    assert "10s exceeds the 4.5s" in finding.message
    assert report.exit_code == 1


def test_retries_and_backoff_count_against_the_caller() -> None:
    text = SEED.replace("timeout: 4.5", "timeout: 1.5\n        attempts: 3\n        backoff: [0.1]")
    over, outlives = _check(text).findings
    assert (over.rule_id, outlives.rule_id) == ("SW201", "SW202")
    assert "3 x 1.5s + 0.2s backoff = 4.7s" in over.message


def test_seawall_default_backoff_is_assumed_with_jitter() -> None:
    text = SEED.replace("timeout: 4.5", "timeout: 0.5\n        attempts: 3")
    [edge] = _check(text).edges
    assert edge.call.sleeps == pytest.approx((1.2, 2.4))  # 1 s, 2 s, +20 % jitter
    assert edge.worst_case == pytest.approx(5.1)


def test_a_callee_outliving_its_callers_attempt_is_a_warning() -> None:
    text = SEED.replace("timeout: 4.5", "timeout: 1")
    report = _check(text)
    assert [f.rule_id for f in report.findings] == ["SW202"]
    assert report.exit_code == 0


def test_three_layers_of_three_attempts_amplify_27_times() -> None:
    report = _check(CHAIN.replace("RB", ""))
    [path] = report.paths
    assert path.services == ("a", "b", "c", "d")
    assert path.amplification == pytest.approx(27.0)
    [finding] = report.findings
    assert finding.rule_id == "SW203"
    assert finding.message.startswith("a -> b -> c -> d: worst-case amplification 27x")
    assert report.exit_code == 1


def test_retry_budgets_bound_the_amplification() -> None:
    report = _check(CHAIN.replace("RB", ", retry_budget: 0.1"))
    [path] = report.paths
    # Each layer retries at most 10 % of its requests: 1.1 per layer, compounding.
    assert path.amplification == pytest.approx(1.1**3)  # 1.331
    assert report.findings == ()
    two_layers = _check(CHAIN.replace("RB", ", retry_budget: 0.1"), "g.yaml")
    assert two_layers.edges[0].amplification == pytest.approx(1.1)


def test_a_cycle_is_reported_once() -> None:
    text = "services:\n  a: {budget: 5, calls: [{service: b, timeout: 1}]}\n  b: {budget: 1, calls: [{service: a, timeout: 0.5}]}\n"
    report = _check(text)
    [cycle] = [f for f in report.findings if f.rule_id == "SW204"]
    assert "a -> b -> a" in cycle.message
    assert report.exit_code == 1


def test_the_shop_graph_is_read_from_its_annotations() -> None:
    graph = load_graph([str(SHOP)])
    assert set(graph.services) == {"frontend", "checkout", "payments", "catalog"}
    report = check_budget(graph)
    assert report.findings == ()
    amplification = {p.services: p.amplification for p in report.paths}
    assert amplification[("frontend", "checkout", "payments")] == pytest.approx(4.0)
    assert amplification[("frontend", "checkout", "stripe")] == pytest.approx(2.0)
    assert amplification[("frontend", "catalog")] == pytest.approx(1.1)


def test_the_graph_is_read_from_generated_manifests(tmp_path: Path) -> None:
    front = spec_from_text(
        "name: front\nimage: x/front:1\nbudget_seconds: 5\ncalls: [{service: pay, timeout: 10}]\n"
    )
    pay = spec_from_text("name: pay\nimage: x/pay:1\nbudget_seconds: 10\n")
    path = tmp_path / "all.yaml"
    path.write_text(to_yaml(generate(front)) + to_yaml(generate(pay)))
    [finding] = check_budget(load_graph([str(path)])).findings
    assert (finding.rule_id, finding.resource) == ("SW201", "front -> pay")
    assert "seawall.dev/calls" in path.read_text().splitlines()[finding.line - 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: {a: {calls: []}}\n", "graph.yaml:1: services.a: needs a 'budget'"),
        ("services:\n  a: {budget: -1}\n", "graph.yaml:2: services.a.budget: -1 must be"),
        (
            "services:\n  a:\n    budget: 1\n    calls: [{service: x}]\n",
            "graph.yaml:4: call a -> x: 'x' is not in the graph, so the call needs a 'timeout'",
        ),
        (
            "services:\n  a:\n    budget: 1\n    calls:\n      - {service: b, attempts: 0}\n  b: {budget: 1}\n",
            "graph.yaml:5: services.a.calls.0.attempts: 0 must be an integer >= 1",
        ),
        ("services: {}\nretries: 3\n", "graph.yaml:2: retries: unknown key"),
    ],
)
def test_bad_graphs_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _check(text)
    assert str(info.value).startswith(message)


def test_durations_accept_units() -> None:
    report = _check(
        SEED.replace("timeout: 4.5", "timeout: 4500ms").replace("budget: 5", 'budget: "5s"')
    )
    assert report.edges[0].timeout == pytest.approx(4.5)
    assert report.findings == ()


def _cli(tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = tmp_path / "graph.yaml"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["budget", "check", "--format", "json", str(path)])
    return code, out.getvalue(), err.getvalue()


def _one_call(call: str) -> str:
    return f"services:\n  a:\n    budget: 1\n    calls:\n      - {call}\n  b: {{budget: 1}}\n"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("{service: b, attempts: 1026}", "attempts: 1026 must be an integer from 1 to 100"),
        ("{service: b, attempts: 1025}", "attempts: 1025 must be an integer from 1 to 100"),
        ("{service: b, attempts: 101}", "attempts: 101 must be an integer from 1 to 100"),
        ("{service: b, backoff: [-1]}", "backoff.0: -1 must be a finite, non-negative"),
        ("{service: b, attempts: 3, backoff: [-1]}", "backoff.0: -1 must be a finite"),
        ("{service: b, backoff: -0.5}", "backoff: -0.5 must be a finite, non-negative"),
        ("{service: b, backoff: {jitter: -1}}", "backoff.jitter: -1 must be a finite"),
        (
            "{service: b, attempts: 4, backoff: {multiplier: 1.0e+300}}",
            "backoff: the backoff before attempt 4 is beyond any budget",
        ),
    ],
)
def test_impossible_attempts_and_backoffs_exit_2_with_one_line(
    tmp_path: Path, call: str, message: str
) -> None:
    code, out, err = _cli(tmp_path, _one_call(call))
    assert code == 2
    assert out == ""
    assert err.startswith(f"seawall: {tmp_path / 'graph.yaml'}:5: services.a.calls.0.")
    assert message in err
    assert err.count("\n") == 1  # one line, no traceback


def test_a_hundred_attempts_with_a_capped_backoff_are_checked() -> None:
    report = _check(_one_call("{service: b, attempts: 100, backoff: {maximum: 2}}"))
    [edge] = report.edges
    assert edge.worst_case == pytest.approx(100 * 1 + 1.2 + 2.4 + 97 * 2 * 1.2)
    assert report.exit_code == 1


numbers = (
    st.integers(-5, 2000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.booleans()
    | st.none()
)
backoffs = (
    numbers
    | st.lists(numbers, max_size=3)
    | st.dictionaries(st.sampled_from(["initial", "multiplier", "maximum", "jitter"]), numbers)
)


@settings(max_examples=300, deadline=None)
@given(attempts=numbers, backoff=backoffs)
def test_any_attempts_and_backoff_give_a_report_or_one_line(attempts: Any, backoff: Any) -> None:
    call = json.dumps({"service": "b", "attempts": attempts, "backoff": backoff})
    with tempfile.TemporaryDirectory() as tmp:
        code, out, err = _cli(Path(tmp), _one_call(call))
        if code == 2:
            assert err.startswith(f"seawall: {Path(tmp) / 'graph.yaml'}:"), err
            assert err.count("\n") == 1
        else:
            assert code in (0, 1), err
            [edge] = json.loads(out)["edges"]
            assert math.isfinite(edge["worst_case"])
            assert edge["attempts"] <= MAX_ATTEMPTS
