"""Lint 1,000 Kubernetes objects - strict schema validation included - in at most 5 s.

250 generated services (Deployment, Service, PodDisruptionBudget, HPA each), one file
per service, a quarter of them with a defect, linted together in one cold process: the
timing covers reading, line-aware parsing, loading the schemas and every check. Prints
the figure; exits 1 if it is over the limit.

    .venv/bin/python benchmarks/lint.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from seawall.kube import generate, lint, spec_from_text, to_yaml

LIMIT_SECONDS = 5.0
SERVICES = 250


def _write_fleet(root: Path) -> int:
    objects = 0
    for i in range(SERVICES):
        spec = spec_from_text(
            f"name: svc-{i}\nimage: ghcr.io/bench/svc-{i}:1.{i}.0\nreplicas: {2 + i % 4}\n"
            f"budget_seconds: 5\ncalls: [{{service: svc-{(i + 1) % SERVICES}, timeout: 1}}]\n"
        )
        docs = generate(spec)
        if i % 4 == 0:  # a realistic share of mistakes, so the checks do real work
            docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = f"bench/svc-{i}:latest"
            del docs[0]["spec"]["template"]["spec"]["topologySpreadConstraints"]
        objects += len(docs)
        (root / f"svc-{i}.yaml").write_text(to_yaml(docs))
    return objects


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        objects = _write_fleet(root)
        start = time.perf_counter()
        result = lint([str(root)])
        elapsed = time.perf_counter() - start
    assert result.objects == objects == 4 * SERVICES
    print(
        f"kube lint: {objects} manifests ({SERVICES} files), strict schema included: "
        f"{elapsed:.2f} s ({elapsed / objects * 1000:.2f} ms each), "
        f"{len(result.findings)} findings; limit {LIMIT_SECONDS:.0f} s"
    )
    return 0 if elapsed <= LIMIT_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
