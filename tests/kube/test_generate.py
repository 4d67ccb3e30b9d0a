"""Golden tests: generated manifests lint clean and validate strictly, offline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from seawall._errors import ConfigError
from seawall.cli import main
from seawall.kube import generate, lint_text, spec_from_text, to_yaml
from seawall.kube._schema import versions
from tests.kube import asgi_app

SPEC = """\
name: checkout
image: ghcr.io/shop/checkout:1.4.2
namespace: shop
port: 8080
replicas: 3
resources:
  requests: {cpu: 250m, memory: 256Mi}
  limits: {memory: 256Mi}
drain_seconds: 5
shutdown_seconds: 25
kubernetes_version: "VERSION"
budget_seconds: 5
calls:
  - {service: payments, timeout: 1.5, attempts: 2, backoff: [0.2], retry_budget: 0.1}
"""


def _generated(version: str) -> list[dict[str, Any]]:
    return generate(spec_from_text(SPEC.replace("VERSION", version), "spec.yaml"))


@pytest.mark.parametrize("version", ["1.29", "1.33"])
def test_generated_manifests_lint_clean_and_validate_strictly(version: str) -> None:
    objects = _generated(version)
    assert [o["kind"] for o in objects] == [
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ConfigMap",
    ]
    text = to_yaml(objects)
    assert lint_text(text, kubernetes_version=version).findings == ()
    for obj in yaml.safe_load_all(text):  # the library's own validator, as an oracle
        assert kubernetes_validate.validate(obj, version, strict=True) == version


@pytest.mark.parametrize("version", [f"{m}.{n}" for m, n in versions()])
def test_every_supported_version_lints_clean(version: str) -> None:
    assert lint_text(to_yaml(_generated(version)), kubernetes_version=version).findings == ()


def test_the_seed_defaults_are_in_the_deployment() -> None:
    deployment, _service, pdb, hpa, _dashboard = _generated("1.33")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert pod["terminationGracePeriodSeconds"] >= 5 + 25 + 1
    paths = {
        k: container[k]["httpGet"]["path"]
        for k in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert paths == {
        "startupProbe": "/startupz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/livez",
    }
    live, ready = container["livenessProbe"], container["readinessProbe"]
    assert (
        live["periodSeconds"] * live["failureThreshold"]
        > ready["periodSeconds"] * ready["failureThreshold"]
    )
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert hpa["spec"]["minReplicas"] == 3 >= 2
    assert deployment["metadata"]["annotations"]["seawall.dev/budget-seconds"] == "5"


def test_before_1_29_the_prestop_is_an_exec_sleep() -> None:
    [container] = _generated("1.28")[0]["spec"]["template"]["spec"]["containers"]
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "image: ghcr.io/shop/checkout:1.4.2",
            "spec.yaml:2: spec image: 'ghcr.io/shop/checkout:latest'",
        ),
        ("replicas: 3", "spec.yaml:5: spec replicas: 1 must be an integer >= 2"),
        (
            'kubernetes_version: "VERSION"',
            "spec.yaml:11: spec kubernetes_version: 1.3 must be quoted",
        ),
        ("port: 8080", "spec.yaml:4: spec port: 70000 is not a TCP port"),
        ("drain_seconds: 5", "spec.yaml:9: spec drain_seconds: 0 must be an integer >= 1"),
        ("budget_seconds: 5", "spec.yaml:12: spec budget_seconds: 'soon' is not a duration"),
    ],
)
def test_bad_specs_name_file_line_and_field(change: str, message: str) -> None:
    bad = {
        "image: ghcr.io/shop/checkout:1.4.2": "image: ghcr.io/shop/checkout:latest",
        "replicas: 3": "replicas: 1",
        'kubernetes_version: "VERSION"': "kubernetes_version: 1.30",
        "port: 8080": "port: 70000",
        "drain_seconds: 5": "drain_seconds: 0",
        "budget_seconds: 5": "budget_seconds: soon",
    }[change]
    text = SPEC.replace(change, bad).replace("VERSION", "1.33")
    with pytest.raises(ConfigError) as info:
        spec_from_text(text, "spec.yaml")
    assert str(info.value).startswith(message)


def test_an_unknown_spec_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"spec.yaml:2: spec replica: unknown key"):
        spec_from_text("name: a\nreplica: 3\nimage: x:1\n", "spec.yaml")


def test_the_spec_example_in_the_docs_generates(tmp_path: Path) -> None:
    spec = spec_from_text("name: web\nimage: ghcr.io/x/web:1.0.0\n")
    assert spec.replicas == 3
    assert spec.resources["limits"]["memory"] == "128Mi"
    assert lint_text(to_yaml(generate(spec))).findings == ()


def test_generated_pods_meet_pod_security_restricted() -> None:
    pod = _generated("1.33")[0]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # A read-only image still needs somewhere to write temporary files.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_run_as_user_sets_the_pod_uid_and_gid() -> None:
    spec = spec_from_text("name: web\nimage: ghcr.io/x/web:1.0.0\nrun_as_user: 10001\n")
    security = generate(spec)[0]["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsUser"] == security["runAsGroup"] == 10001
    assert security["runAsNonRoot"] is True


# What checkov's Kubernetes policies must not find on generated output: privilege
# escalation, writable root, root, NET_RAW, pod and container security contexts,
# seccomp, capabilities, service account token.
_CHECKOV_SECURITY = {f"CKV_K8S_{n}" for n in (20, 22, 23, 28, 29, 30, 31, 37, 38)}


def test_checkov_passes_the_generated_manifests_on_its_security_checks(tmp_path: Path) -> None:
    checkov = Path(sys.executable).with_name("checkov")
    if not checkov.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("checkov (a dev dependency) is not installed")
        pytest.skip("checkov is not installed: pip install -e '.[dev]'")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "checkout.yaml").write_text(to_yaml(_generated("1.33")))
    done = subprocess.run(
        [
            *(str(checkov), "--framework", "kubernetes", "--directory", str(tmp_path / "out")),
            *("--output", "json", "--compact", "--skip-download"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    report = json.loads(done.stdout)
    results = report["results"]
    failed = {c["check_id"] for c in results["failed_checks"]}
    passed = {c["check_id"] for c in results["passed_checks"]}
    assert failed & _CHECKOV_SECURITY == set(), done.stdout
    assert passed >= _CHECKOV_SECURITY  # each one ran on the Deployment and passed


def test_an_app_is_served_on_the_declared_port(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_from_text(
        "name: web\nimage: ghcr.io/x/web:1.0.0\nport: 9090\napp: tests.kube.asgi_app:app\n"
    )
    [container] = generate(spec)[0]["spec"]["template"]["spec"]["containers"]
    assert container["command"][0] == "seawall"
    served: dict[str, Any] = {}

    def fake_serve(app: Any, host: str, port: int, **kwargs: Any) -> int:
        served.update(app=app, host=host, port=port, **kwargs)
        return 0

    monkeypatch.setattr("seawall.http._serve.serve", fake_serve)
    # The container's command line, through seawall's own CLI.
    assert main([*container["command"][1:], *container["args"]]) == 0
    assert served["app"] is asgi_app.app
    assert (served["host"], served["port"]) == ("0.0.0.0", 9090)
    assert container["ports"][0]["containerPort"] == 9090
    # Drain and shutdown come from the env the linter reads, not from flags.
    assert served["drain_delay"] is None
    assert served["shutdown_timeout"] is None
    assert {e["name"] for e in container["env"]} == {
        "SEAWALL_DRAIN_DELAY",
        "SEAWALL_SHUTDOWN_TIMEOUT",
    }


def test_without_an_app_the_image_entrypoint_is_kept() -> None:
    [container] = _generated("1.33")[0]["spec"]["template"]["spec"]["containers"]
    assert "command" not in container
    assert "args" not in container


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("app: shop.main", "spec app: 'shop.main' is not MODULE:ATTRIBUTE"),
        ("app: 'shop main:app'", "spec app: 'shop main:app' is not MODULE:ATTRIBUTE"),
        ("app: 42", "spec app: 42 must be a string"),
        ("run_as_user: 0", "spec run_as_user: 0 must be an integer >= 1"),
        ("run_as_user: 4294967296", "spec run_as_user: 4294967296 is not a Linux uid"),
    ],
)
def test_bad_app_or_uid_is_refused(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"spec.yaml:3: {message}")):
        spec_from_text(f"name: web\nimage: ghcr.io/x/web:1.0.0\n{line}\n", "spec.yaml")
