"""The ``seawall kube`` and ``seawall budget`` commands: formats and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seawall.cli import main
from tests.kube.conftest import CHECKS, GOOD, SHOP

SPEC = "name: web\nimage: ghcr.io/shop/web:1.0.0\nkubernetes_version: '1.29'\n"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["kube", "lint", str(GOOD)], capsys)[0] == 0
    assert _run(["kube", "lint", str(CHECKS / "SW113-fail-latest.yaml")], capsys)[0] == 0  # warning
    assert _run(["kube", "lint", str(CHECKS / "SW101-fail.yaml")], capsys)[0] == 1
    assert _run(["kube", "lint"], capsys)[0] == 2  # usage
    assert _run(["kube", "lint", "--format", "xml", str(GOOD)], capsys)[0] == 2
    assert _run(["kube", "lint", "--kubernetes-version", "1.9", str(GOOD)], capsys)[0] == 2
    assert _run(["kube"], capsys)[0] == 2


def test_human_output_is_a_table_with_file_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kube", "lint", str(SHOP)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["LOCATION", "SEVERITY", "ID", "OBJECT", "MESSAGE"]
    assert any(f"{SHOP / 'payments.yaml'}:18" in line and "SW112" in line for line in lines)
    assert lines[-1] == "20 objects linted: 10 findings, 3 suppressed"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["kube", "lint", "--format", "json", str(SHOP)], capsys)
    body = json.loads(out)
    assert code == 1
    assert body["summary"] == {"findings": 10, "suppressed": 3, "errors": 5}
    grace = next(f for f in body["findings"] if f["id"] == "SW112")
    assert grace["line"] == 18
    assert grace["name"] == "grace-period-too-short"
    assert grace["field"] == "spec.template.spec.terminationGracePeriodSeconds"


def test_sarif_output_has_rules_levels_lines_and_suppressions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(["kube", "lint", "--format", "sarif", str(SHOP)], capsys)
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][:2] == ["SW100", "SW101"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert region["startLine"] >= 1
        assert result["level"] in ("error", "warning", "note")
        assert uri.startswith("file:///") or not uri.startswith("/")
    grace = next(r for r in run["results"] if r["ruleId"] == "SW112")
    assert grace["locations"][0]["physicalLocation"]["region"]["startLine"] == 18
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert len(suppressed) == 3
    assert suppressed[0]["suppressions"][0]["kind"] == "inSource"


def test_lint_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO((CHECKS / "SW101-fail.yaml").read_text()))
    code, out, _ = _run(["kube", "lint", "--format", "json", "-"], capsys)
    assert code == 1
    assert json.loads(out)["findings"][0]["file"] == "<stdin>"


def test_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "lint.yaml"
    config.write_text("disable: [readiness-probe-missing]\nseverity:\n  SW102: error\n")
    code, out, _ = _run(
        [
            "kube",
            "lint",
            "--format",
            "json",
            "--config",
            str(config),
            str(CHECKS / "SW101-fail.yaml"),
        ],
        capsys,
    )
    assert (code, json.loads(out)["findings"]) == (0, [])
    code, _, _ = _run(
        ["kube", "lint", "--config", str(config), str(CHECKS / "SW102-fail.yaml")], capsys
    )
    assert code == 1
    config.write_text("disable: [SW101]\nseverity:\n  SW102: fatal\n")
    code, _, err = _run(["kube", "lint", "--config", str(config), str(GOOD)], capsys)
    assert code == 2
    assert err.startswith(f"seawall: {config}:3: severity.SW102: 'fatal' is not one of")


def test_generate_writes_clean_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "web.yaml"
    assert _run(["kube", "generate", str(spec), "-o", str(out)], capsys)[0] == 0
    assert "sleep:" in out.read_text()
    code, text, _ = _run(["kube", "lint", "--kubernetes-version", "1.29", str(out)], capsys)
    assert code == 0
    assert text.endswith("5 objects linted: 0 findings\n")
    code, text, _ = _run(["kube", "generate", "--kubernetes-version", "1.28", str(spec)], capsys)
    assert code == 0
    assert "exec:" in text
    spec.write_text("name: Web\nimage: x:1\n")
    code, _, err = _run(["kube", "generate", str(spec)], capsys)
    assert code == 2
    assert err.startswith(f"seawall: {spec}:1: spec name: 'Web' is not a DNS label")


def test_budget_check_formats_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = tmp_path / "graph.yaml"
    graph.write_text(
        "services:\n  a:\n    budget: 5\n    calls: [{service: b}]\n  b: {budget: 10}\n"
    )
    code, out, _ = _run(["budget", "check", str(graph)], capsys)
    assert code == 1
    assert "a -> b" in out
    assert "OVER" in out
    code, out, _ = _run(["budget", "check", "--format", "json", str(graph)], capsys)
    body = json.loads(out)
    assert body["findings"][0]["id"] == "SW201"
    assert body["edges"][0]["worst_case"] == 10
    code, out, _ = _run(["budget", "check", "--format", "sarif", str(graph)], capsys)
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert _run(["budget", "check", str(SHOP)], capsys)[0] == 0
    code, _, err = _run(["budget", "check", str(GOOD)], capsys)
    assert code == 2
    assert "no services" in err
    assert _run(["budget", "check", "--max-amplification", "0.5", str(SHOP)], capsys)[0] == 2
    assert _run(["budget", "check", "--max-amplification", "3", str(SHOP)], capsys)[0] == 1


def test_a_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("seawall")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "seawall.cli"]
    done = subprocess.run(
        [*command, "kube", "lint", "--format", "sarif", str(SHOP)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["version"] == "2.1.0"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    done = subprocess.run(
        [*command, "kube", "lint", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"seawall: {bad}:")


def _seawall(args: list[str], stdin: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    exe = Path(sys.executable).with_name("seawall")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "seawall.cli"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_non_utf8_stdin_is_one_line_and_exit_2(locale: str) -> None:
    # The C locale decodes stdin with surrogateescape: the bytes must still be refused.
    done = _seawall(
        ["kube", "lint", "-"],
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n",
        LC_ALL=locale,
    )
    assert done.returncode == 2
    assert done.stderr == b"seawall: <stdin>: not UTF-8 text: invalid start byte at byte 48\n"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


@pytest.mark.parametrize("data", [b"", b"# helm rendered nothing\n", b"---\n---\n"])
def test_empty_input_fails_the_gate_unless_allowed(
    data: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, data)
    code, _, err = _run(["kube", "lint", "-"], capsys)
    assert (code, err) == (
        2,
        "seawall: <stdin>: no Kubernetes objects to lint (pass --allow-empty if that is "
        "expected)\n",
    )
    _stdin(monkeypatch, data)
    code, out, _ = _run(["kube", "lint", "--allow-empty", "-"], capsys)
    assert (code, out) == (0, "0 objects linted: 0 findings\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
            "seawall: <stdin>:4: unrendered template '{{ .Release.Name }}'",
        ),
        (
            "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n{{- end }}\n",
            "seawall: <stdin>:1: unrendered template '{{- if .Values.enabled }}'",
        ),
        (
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "{{ include "n" . }}"\n',
            "seawall: <stdin>:4: unrendered",
        ),
        (  # valid YAML that still holds Helm's expressions
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: '{{ .Values.name }}'\n",
            "seawall: <stdin>:4: unrendered Helm template '{{ .Values.name }}'",
        ),
    ],
)
def test_an_unrendered_template_says_so(
    text: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, text.encode())
    code, _, err = _run(["kube", "lint", "-"], capsys)
    assert code == 2
    assert err.startswith(message)
    assert "helm template" in err
    assert err.count("\n") == 1


def test_go_templates_that_rendered_manifests_carry_are_linted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: alertmanager-templates}\n"
        "data:\n  slack.tmpl: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}'\n"
    )
    _stdin(monkeypatch, text.encode())
    assert _run(["kube", "lint", "-"], capsys)[:2] == (0, "1 object linted: 0 findings\n")


@pytest.mark.parametrize(
    ("api", "kind", "message"),
    [
        ("apps/v1beta1", "Deployment", "apps/v1beta1 Deployment is not served by Kubernetes"),
        ("apps/v1", "Deploymnet", "serves no kind 'Deploymnet' in apps/v1; did you mean"),
    ],
)
def test_a_removed_api_fails_the_gate(
    api: str,
    kind: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = GOOD.read_text().replace(
        "apiVersion: apps/v1\nkind: Deployment", f"apiVersion: {api}\nkind: {kind}"
    )
    _stdin(monkeypatch, text.encode())
    code, out, _ = _run(["kube", "lint", "-"], capsys)
    assert code == 1
    assert "SW100" in out
    assert message in out


def test_existing_rules_keep_their_sarif_rule_index(capsys: pytest.CaptureFixture[str]) -> None:
    # SARIF results point at rules by index; baselines made before a rule was added must
    # still point at the same rule.
    _, out, _ = _run(["kube", "lint", "--format", "sarif", str(SHOP)], capsys)
    rules = json.loads(out)["runs"][0]["tool"]["driver"]["rules"]
    before = [f"SW1{n:02d}" for n in range(16)] + ["SW190"]
    assert [r["id"] for r in rules][: len(before)] == before


def test_generate_reads_the_spec_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, SPEC.encode())
    code, out, _ = _run(["kube", "generate", "-"], capsys)
    assert code == 0
    assert "kind: HorizontalPodAutoscaler" in out
    _stdin(monkeypatch, b"name: web\nimage: \xff\n")
    code, _, err = _run(["kube", "generate", "-"], capsys)
    assert (code, err) == (2, "seawall: <stdin>: not UTF-8 text: invalid start byte at byte 17\n")
