"""Verdicts: worse only when significant and large enough; no data rolls back."""

from __future__ import annotations

import random

import pytest

from seawall._errors import ConfigError
from seawall.canary import judge


def _samples(
    error_b: list[float], error_c: list[float]
) -> dict[str, tuple[list[float], list[float]]]:
    latency = [0.01] * len(error_b)
    return {
        "error_ratio": (error_b, error_c),
        "latency_p50_seconds": (latency, list(latency)),
        "latency_p99_seconds": (latency, list(latency)),
    }


def test_five_percent_errors_roll_back() -> None:
    rng = random.Random(1)
    base = [rng.uniform(0, 0.002) for _ in range(12)]
    bad = [rng.uniform(0.04, 0.06) for _ in range(12)]
    judgement = judge(_samples(base, bad))
    assert not judgement.promote
    assert judgement.exit_code == 1
    [error] = [m for m in judgement.metrics if m.metric == "error_ratio"]
    assert error.classification == "high"


@pytest.mark.parametrize("seed", range(10))
def test_equal_versions_promote(seed: int) -> None:
    rng = random.Random(seed)
    a = [rng.uniform(0, 0.004) for _ in range(12)]
    b = [rng.uniform(0, 0.004) for _ in range(12)]
    assert judge(_samples(a, b)).promote


def test_significant_but_harmless_increase_passes() -> None:
    # Every canary interval is worse, but by 0.1 percentage point: under the floor.
    judgement = judge(_samples([0.001] * 12, [0.002] * 12))
    assert judgement.promote
    assert judgement.metrics[0].p_value is not None
    assert judgement.metrics[0].p_value < 0.001


def test_no_canary_samples_roll_back() -> None:
    judgement = judge(_samples([0.0] * 5, []))
    assert not judgement.promote
    assert judgement.metrics[0].classification == "nodata"
    assert "no canary samples" in judgement.summary()


def test_confidence_is_checked() -> None:
    with pytest.raises(ConfigError, match="confidence"):
        judge({}, confidence=1.0)
