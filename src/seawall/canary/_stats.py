"""The Mann-Whitney U test, with the tie correction, in plain Python.

Kayenta judges a canary metric by metric with this test because canary metrics are not
normal: error ratios sit at zero most of the time and latency percentiles have long
tails. The test asks only whether values drawn from the canary tend to be larger than
values drawn from the baseline, using ranks, so one outlier cannot decide a rollout.

Error ratios tie a lot (many intervals at exactly 0), so ties get average ranks and the
variance its tie correction; the p-value comes from the normal approximation with a
continuity correction, which is accurate from about eight samples a side (the judge
takes ten or more). All values tied means no evidence either way: p = 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MannWhitney", "mann_whitney_u", "ranks"]


@dataclass(frozen=True)
class MannWhitney:
    """``u`` is the canary's U statistic; ``p_greater`` the one-sided p-value that the
    canary's values tend to be larger than the baseline's."""

    u: float
    z: float
    p_greater: float


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the average of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = average
        i = j + 1
    return out


def mann_whitney_u(canary: Sequence[float], baseline: Sequence[float]) -> MannWhitney:
    """Test whether ``canary`` tends to be larger than ``baseline``; both non-empty."""
    n1, n2 = len(canary), len(baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError("the Mann-Whitney U test needs at least one value on each side")
    combined = [*canary, *baseline]
    if any(math.isnan(v) for v in combined):
        raise ValueError("the Mann-Whitney U test cannot rank NaN")
    r = ranks(combined)
    u = sum(r[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    counts: dict[float, int] = {}
    for value in combined:
        counts[value] = counts.get(value, 0) + 1
    ties = sum(t**3 - t for t in counts.values())
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return MannWhitney(u=u, z=0.0, p_greater=1.0)
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return MannWhitney(u=u, z=z, p_greater=0.5 * math.erfc(z / math.sqrt(2)))
