"""A request's deadline crosses a simulated hop exactly as the real header carries it."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from seawall.sim._calls import whole_ms
from seawall.wire import encode_timeout_ms, parse_timeout_ms


@given(st.floats(min_value=-1e6, allow_nan=False) | st.sampled_from([0.0, 0.0009, 0.001, 1e12]))
def test_the_budget_a_hop_carries_is_the_headers_round_trip(seconds: float) -> None:
    assert whole_ms(seconds) == parse_timeout_ms(encode_timeout_ms(seconds))


def test_an_infinite_budget_is_capped_as_the_header_caps_it() -> None:
    assert whole_ms(math.inf) == parse_timeout_ms(encode_timeout_ms(math.inf))
