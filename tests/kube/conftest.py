"""Shared paths for the kube tests."""

from __future__ import annotations

from pathlib import Path

MANIFESTS = Path(__file__).parent / "manifests"
CHECKS = MANIFESTS / "checks"
SHOP = MANIFESTS / "shop"
GOOD = MANIFESTS / "good.yaml"
