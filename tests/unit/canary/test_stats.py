"""The Mann-Whitney U test against values computed by hand and by R/scipy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.canary import mann_whitney_u
from seawall.canary._stats import ranks


def test_ranks_average_ties() -> None:
    assert ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


def test_separated_samples_match_scipy_asymptotic() -> None:
    # scipy.stats.mannwhitneyu([4, 5, 6], [1, 2, 3], alternative="greater",
    # method="asymptotic") -> U = 9, p = 0.040428...
    result = mann_whitney_u([4.0, 5.0, 6.0], [1.0, 2.0, 3.0])
    assert result.u == 9
    assert result.p_greater == pytest.approx(0.0404, abs=5e-4)


def test_ties_shrink_the_variance() -> None:
    # 16 zeros and four distinct positives: the tie-corrected sd is 9.25, not 13.2.
    canary = [0.0] * 6 + [0.1, 0.2, 0.3, 0.4]
    baseline = [0.0] * 10
    result = mann_whitney_u(canary, baseline)
    assert result.u == 70
    assert result.z == pytest.approx((70 - 50 - 0.5) / math.sqrt(100 / 12 * (21 - 4080 / 380)))
    assert result.p_greater == pytest.approx(0.0177, abs=5e-4)


def test_all_tied_is_no_evidence() -> None:
    assert mann_whitney_u([0.0] * 5, [0.0] * 5).p_greater == 1.0


def test_empty_or_nan_sides_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        mann_whitney_u([math.nan], [1.0])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=1, max_size=30), st.lists(finite, min_size=1, max_size=30))
def test_u_statistics_of_both_sides_sum_to_n1_n2(x: list[float], y: list[float]) -> None:
    a, b = mann_whitney_u(x, y), mann_whitney_u(y, x)
    assert a.u + b.u == pytest.approx(len(x) * len(y))
    assert 0.0 <= a.p_greater <= 1.0
    assert a.p_greater + b.p_greater >= 1.0 - 1e-9  # both one-sided tails cannot be small
