"""A realistic multi-service shop, linted with exactly the expected findings."""

from __future__ import annotations

from pathlib import Path

from seawall.kube import lint
from tests.kube.conftest import SHOP

# (file, ID, object) of every active finding, and of every suppressed one.
EXPECTED = {
    ("cart-cache.yaml", "SW110", "StatefulSet/shop/cart-cache"),
    # The Helm-style List leaves the PDB without a namespace: it lands in "default".
    ("catalog.yaml", "SW107", "Deployment/shop/catalog"),
    ("checkout.yaml", "SW103", "Deployment/shop/checkout"),
    ("checkout.yaml", "SW108", "PodDisruptionBudget/shop/checkout"),
    ("checkout.yaml", "SW109", "HorizontalPodAutoscaler/shop/checkout"),
    ("checkout.yaml", "SW111", "Deployment/shop/checkout"),
    ("checkout.yaml", "SW113", "Deployment/shop/checkout"),
    ("payments.yaml", "SW112", "Deployment/shop/payments"),
    ("payments.yaml", "SW114", "Deployment/shop/payments"),
    ("postgres.yaml", "SW107", "StatefulSet/shop/orders-db"),
}
SUPPRESSED = {
    ("postgres.yaml", "SW106", "StatefulSet/shop/orders-db"),
    ("postgres.yaml", "SW111", "StatefulSet/shop/orders-db"),
    ("postgres.yaml", "SW114", "StatefulSet/shop/orders-db"),
}


def test_the_shop_has_exactly_the_expected_findings() -> None:
    result = lint([str(SHOP)])
    found = [(Path(f.source).name, f.rule_id, f.resource) for f in result.active]
    assert len(found) == len(set(found))
    assert set(found) == EXPECTED
    hidden = {(Path(f.source).name, f.rule_id, f.resource) for f in result.findings} - set(found)
    assert hidden == SUPPRESSED
    assert result.objects == 20
    assert result.exit_code == 1


def test_the_cronjob_and_the_clean_services_are_not_flagged() -> None:
    result = lint([str(SHOP)])
    flagged = {f.resource.split("/")[-1] for f in result.findings}
    assert "nightly-report" not in flagged
    assert "frontend" not in flagged
    assert "shop-settings" not in flagged


def test_the_shop_findings_carry_real_lines() -> None:
    for finding in lint([str(SHOP)]).active:
        lines = Path(finding.source).read_text().splitlines()
        assert 1 <= finding.line <= len(lines)
    grace = next(f for f in lint([str(SHOP)]).active if f.rule_id == "SW112")
    text = Path(grace.source).read_text().splitlines()[grace.line - 1]
    assert "terminationGracePeriodSeconds: 20" in text
