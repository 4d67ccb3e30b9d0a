"""The canary verdict: each metric tested, any metric clearly worse rolls the canary back.

A metric is *worse* only when both of these hold, as in Kayenta's classifier:

* the Mann-Whitney U test says the canary's samples tend to be larger than the
  baseline's at the chosen confidence (0.98 by default), so noise does not roll back a
  good version; and
* the difference matters: the canary's mean exceeds the baseline's by more than a
  relative ``tolerance`` *and* an absolute ``floor`` (half a percentage point of errors;
  5 ms of latency), so a statistically real but harmless change does not either.

Every metric is critical: one worse metric means roll back, and so does a metric with no
samples on either side, because a canary nobody called has not shown it is healthy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from seawall._errors import ConfigError
from seawall.canary._stats import mann_whitney_u

__all__ = ["CRITERIA", "Criterion", "Judgement", "MetricResult", "check_confidence", "judge"]


@dataclass(frozen=True)
class Criterion:
    """How much worse ``metric`` may get before it counts: relative and absolute."""

    metric: str
    tolerance: float
    floor: float


CRITERIA = (
    Criterion("error_ratio", tolerance=0.5, floor=0.005),
    Criterion("latency_p50_seconds", tolerance=0.2, floor=0.005),
    Criterion("latency_p99_seconds", tolerance=0.2, floor=0.005),
)


@dataclass(frozen=True)
class MetricResult:
    """One metric's classification: ``pass``, ``high`` (worse) or ``nodata``."""

    metric: str
    classification: str
    baseline_mean: float | None
    canary_mean: float | None
    p_value: float | None
    samples: tuple[int, int]
    reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "classification": self.classification,
            "baseline_mean": self.baseline_mean,
            "canary_mean": self.canary_mean,
            "p_value": self.p_value,
            "samples": {"baseline": self.samples[0], "canary": self.samples[1]},
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Judgement:
    """``promote`` when every metric passed; ``metrics`` says why either way."""

    promote: bool
    metrics: tuple[MetricResult, ...]

    @property
    def verdict(self) -> str:
        return "promote" if self.promote else "rollback"

    @property
    def exit_code(self) -> int:
        return 0 if self.promote else 1

    def to_json(self) -> dict[str, object]:
        return {
            "promote": self.promote,
            "verdict": self.verdict,
            "metrics": [m.to_json() for m in self.metrics],
        }

    def summary(self) -> str:
        lines = [f"verdict: {self.verdict}"]
        for m in self.metrics:
            lines.append(f"  {m.metric:<22} {m.classification:<6} {m.reason}")
        return "\n".join(lines)


def _clean(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v) and not math.isinf(v)]


def _classify(
    criterion: Criterion, baseline: Sequence[float], canary: Sequence[float], confidence: float
) -> MetricResult:
    b, c = _clean(baseline), _clean(canary)
    if not b or not c:
        side = "baseline" if not b else "canary"
        return MetricResult(
            criterion.metric, "nodata", None, None, None, (len(b), len(c)), f"no {side} samples"
        )
    b_mean, c_mean = sum(b) / len(b), sum(c) / len(c)
    test = mann_whitney_u(c, b)
    limit = max(b_mean * (1 + criterion.tolerance), b_mean + criterion.floor)
    significant = test.p_greater < 1 - confidence
    worse = significant and c_mean > limit
    reason = (
        f"canary mean {c_mean:.4g} vs baseline {b_mean:.4g} (limit {limit:.4g}), "
        f"p={test.p_greater:.3g}"
    )
    return MetricResult(
        criterion.metric,
        "high" if worse else "pass",
        b_mean,
        c_mean,
        test.p_greater,
        (len(b), len(c)),
        reason,
    )


def check_confidence(confidence: float) -> None:
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"confidence must be in [0.5, 1), got {confidence!r}")


def judge(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    criteria: Sequence[Criterion] = CRITERIA,
    confidence: float = 0.98,
) -> Judgement:
    """Judge ``samples`` (metric -> (baseline, canary)) by ``criteria``."""
    check_confidence(confidence)
    results = tuple(
        _classify(c, *samples.get(c.metric, ((), ())), confidence=confidence) for c in criteria
    )
    return Judgement(all(r.classification == "pass" for r in results), results)
