"""SLO rules and the Grafana dashboard: checked by Prometheus's own promtool.

``promtool check rules`` parses every generated group; ``promtool test rules`` replays
synthetic series through the rules on Prometheus's own engine and asserts which
burn-rate alerts fire. The dashboard has no checker of its own, so each panel query is
wrapped in a recording rule and checked the same way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from seawall.cli import main
from seawall.kube import generate, spec_from_text
from seawall.kube._dashboard import RATE, panel_queries
from seawall.kube._slo import rule_groups

SPEC = """\
name: checkout
image: ghcr.io/shop/checkout:1.4.2
slo:
  availability: 99.9
  latency: {objective: 99, threshold: 0.25}
"""

# Every metric name seawall exports (the observability contract): a panel reading any
# other name would stay empty.
METRICS = {
    "http_server_request_duration_seconds",
    "http_client_request_duration_seconds",
    "seawall_retry_calls_total",
    "seawall_retry_attempts_total",
    "seawall_retry_budget_utilization_ratio",
    "seawall_circuit_breaker_state",
    "seawall_circuit_breaker_transitions_total",
    "seawall_circuit_breaker_calls_total",
    "seawall_circuit_breaker_failure_rate_ratio",
    "seawall_bulkhead_in_flight",
    "seawall_bulkhead_queued",
    "seawall_bulkhead_limit",
    "seawall_bulkhead_rejections_total",
    "seawall_timeouts_total",
    "seawall_fallbacks_total",
    "seawall_load_shedder_requests_total",
    "seawall_load_shedder_limit",
    "seawall_load_shedder_in_flight",
    "seawall_cache_requests_total",
    "seawall_lease_leader",
    "seawall_lease_transitions_total",
}


def _promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (apt-get install -y prometheus)")
        pytest.skip("promtool is not installed")
    return binary


def _objects() -> list[dict[str, Any]]:
    return generate(spec_from_text(SPEC, "spec.yaml"))


def _groups() -> list[dict[str, Any]]:
    [rule] = [o for o in _objects() if o["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def _check(promtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


def test_generated_rule_groups_pass_promtool_check(tmp_path: Path) -> None:
    promtool = _promtool()
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": _groups()}))
    result = _check(promtool, path)
    assert result.returncode == 0, result.stdout + result.stderr
    records = {r["record"] for g in _groups() for r in g["rules"] if "record" in r}
    assert {
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "6h", "3d", "30d")
    } <= records


def _series(good_per_minute: int, bad_per_minute: int) -> list[dict[str, str]]:
    series = (
        'http_server_request_duration_seconds_count{job="checkout",http_response_status_code="%s"}'
    )
    return [
        {"series": series % "200", "values": f"0+{good_per_minute}x120"},
        {"series": series % "500", "values": f"0+{bad_per_minute}x120"},
    ]


def _alert(severity: str, long: str, short: str) -> dict[str, Any]:
    [rule] = [
        r
        for g in _groups()
        for r in g["rules"]
        if r.get("alert") == "SLOAvailabilityErrorBudgetBurn" and r["labels"]["long_window"] == long
    ]
    return {
        "exp_annotations": rule["annotations"],
        "exp_labels": {
            "seawall_service": "checkout",
            "seawall_slo": "availability",
            "severity": severity,
            "long_window": long,
            "short_window": short,
        },
    }


PAGE_1H = _alert("page", "1h", "5m")
PAGE_6H = _alert("page", "6h", "30m")
TICKET = _alert("ticket", "3d", "6h")


@pytest.mark.parametrize(
    ("good", "bad", "expected"),
    [
        # 2 % errors against a 0.1 % budget burns at 20x: every row, the 1 h/5 m page
        # included, fires at the first evaluation with two samples.
        (980, 20, [PAGE_1H, PAGE_6H, TICKET]),
        (19990, 10, []),  # 0.05 %: half the budget's pace, nothing fires
        (998, 2, [TICKET]),  # 0.2 %: twice the pace, a ticket but no page
    ],
    ids=["2%-pages", "0.05%-silent", "0.2%-ticket-only"],
)
def test_promtool_unit_test_fires_the_burn_rate_alerts_of_the_workbook_table(
    tmp_path: Path, good: int, bad: int, expected: list[dict[str, Any]]
) -> None:
    promtool = _promtool()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": _groups()}))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _series(good, bad),
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": "SLOAvailabilityErrorBudgetBurn",
                        "exp_alerts": expected,
                    }
                    for minute in (5, 60)
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_panel_query_parses_and_reads_only_seawall_metrics(
    tmp_path: Path,
) -> None:
    promtool = _promtool()
    [configmap] = [o for o in _objects() if o["kind"] == "ConfigMap"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(configmap["data"]["checkout.json"])
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    assert exprs
    assert [e.replace(RATE, "1m") for e in exprs] == panel_queries("checkout")
    for expr in exprs:
        names = set(re.findall(r"([a-z_:][a-z0-9_:]*)\{", expr))
        assert names, expr
        for name in names:
            assert name in METRICS or re.sub(r"_(bucket|count)$", "", name) in METRICS, expr
        assert 'job="checkout"' in expr
    rules = [
        {"record": f"seawall:panel_{i}", "expr": expr}
        for i, expr in enumerate(panel_queries("checkout"))
    ]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = _check(promtool, path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        ("{availability: 100}", "strictly between 0 and 100"),
        ("{availability: 0}", "strictly between 0 and 100"),
        ("{availability: 0.999}", "under 50 is a typo"),
        ("{availability: high}", "must be a percentage"),
        ("{availability: .nan}", "strictly between 0 and 100"),
        ("{availability: true}", "must be a percentage"),
        ("{latency: {objective: 99, threshold: 0.3}}", "not a bucket boundary"),
        ("{latency: {objective: 99}}", "threshold"),
        ("{}", "needs an 'availability' or a 'latency'"),
        ("{availabilty: 99.9}", "unknown key"),
        ("99.9", "must be a mapping"),
    ],
)
def test_bad_objective_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], slo: str, message: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: checkout\nimage: shop/checkout:1.0\nslo: {slo}\n")
    assert main(["kube", "generate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "slo" in err
    assert len(err.strip().splitlines()) == 1


def test_error_budget_is_exact_and_latency_reads_both_bucket_spellings() -> None:
    spec = spec_from_text(SPEC, "spec.yaml")
    assert spec.slo is not None
    exprs = [r["expr"] for g in rule_groups("checkout", spec.slo) for r in g["rules"]]
    text = "\n".join(exprs)
    assert "14.4 * 0.001)" in text
    assert "0.0009999" not in text
    assert "(14.4 * 0.01)" in text  # the 99 % latency objective
    assert 'le=~"0\\\\.25"' in text
    one = spec_from_text(SPEC.replace("0.25", "1"), "spec.yaml").slo
    assert one is not None
    assert 'le=~"1|1\\\\.0"' in "\n".join(
        r["expr"] for g in rule_groups("checkout", one) for r in g["rules"]
    )


def test_promtool_unit_test_counts_slow_answers_as_latency_errors(tmp_path: Path) -> None:
    promtool = _promtool()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": _groups()}))
    name = (
        'http_server_request_duration_seconds_%s{job="checkout",http_response_status_code="200"%s}'
    )
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # 20 % of answers slower than 0.25 s against a 99 % objective: 20x.
                    {"series": name % ("bucket", ',le="0.25"'), "values": "0+800x30"},
                    {"series": name % ("count", ""), "values": "0+1000x30"},
                ],
                "promql_expr_test": [
                    {
                        "expr": 'round(slo:sli_error:ratio_rate5m{seawall_slo="latency"}, 0.001)',
                        "eval_time": "5m",
                        "exp_samples": [
                            {
                                "labels": '{seawall_service="checkout",'
                                'seawall_slo="latency",seawall_window="5m"}',
                                "value": 0.2,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_canary_spec_emits_the_analysis_template_the_judge_answers(tmp_path: Path) -> None:
    from urllib.parse import parse_qs, urlsplit

    from seawall.canary._sources import check_selector

    text = SPEC + "namespace: shop\ncanary: {judge: 'http://judge.monitoring:8080/'}\n"
    [template] = [
        o for o in generate(spec_from_text(text, "spec.yaml")) if o["kind"] == "AnalysisTemplate"
    ]
    assert template["apiVersion"] == "argoproj.io/v1alpha1"
    [metric] = template["spec"]["metrics"]
    assert metric["successCondition"] == "result == true"
    assert metric["failureLimit"] == 0
    web = metric["provider"]["web"]
    assert web["jsonPath"] == "{$.promote}"
    url = urlsplit(web["url"])
    assert (url.netloc, url.path) == ("judge.monitoring:8080", "/judge")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "baseline": 'namespace="shop",service="checkout-stable"',
        "canary": 'namespace="shop",service="checkout-canary"',
    }
    for selector in query.values():
        assert check_selector(selector, "x") == selector  # the judge accepts what Argo sends


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        ("{judge: ftp://x}", "not an http(s) URL"),
        ("{judge: 'http://x/?a=1'}", "no query"),
        ("{judge: http://x, interval: soon}", "not a duration"),
        ("{judge: http://x, count: 0}", "count"),
        ("{judje: http://x}", "unknown key"),
    ],
)
def test_bad_canary_section_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], canary: str, message: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: checkout\nimage: shop/checkout:1.0\ncanary: {canary}\n")
    assert main(["kube", "generate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
