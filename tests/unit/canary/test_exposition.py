"""The /metrics reader: exposition parsing and histogram_quantile, fuzzed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.canary._exposition import ExpositionError, parse, quantile, totals
from seawall.gameday._versions import Histogram

PAGE = """\
# HELP http_server_request_duration_seconds Duration.
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{http_route="/a",http_response_status_code="200",le="0.1"} 8
http_server_request_duration_seconds_bucket{http_route="/a",http_response_status_code="200",le="+Inf"} 10
http_server_request_duration_seconds_count{http_route="/a",http_response_status_code="200"} 10
http_server_request_duration_seconds_bucket{http_route="/b",http_response_status_code="503",le="0.1"} 1
http_server_request_duration_seconds_bucket{http_route="/b",http_response_status_code="503",le="+Inf"} 2
http_server_request_duration_seconds_count{http_route="/b",http_response_status_code="503"} 2
other_metric{path="a \\"quoted\\" \\\\ value\\n"} 1e3 1700000000000
"""


def test_totals_sum_routes_and_count_5xx() -> None:
    t = totals(PAGE)
    assert (t.requests, t.errors) == (12, 2)
    assert t.buckets == {0.1: 9, math.inf: 12}
    other = next(s for s in parse(PAGE) if s.name == "other_metric")
    assert other.labels == {"path": 'a "quoted" \\ value\n'}
    assert other.value == 1000.0


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.15)
    assert quantile(0.99, {0.1: 50.0, math.inf: 100.0}) == 0.1  # +Inf: the last bound
    assert math.isnan(quantile(0.5, {math.inf: 0.0}))


def test_recorded_histogram_reads_back() -> None:
    h = Histogram()
    for _ in range(95):
        h.observe(200, 0.004)
    for _ in range(5):
        h.observe(500, 0.2)
    t = totals(h.exposition())
    assert (t.requests, t.errors) == (100, 5)
    assert quantile(0.5, t.buckets) == pytest.approx(0.005 * 50 / 95)


@pytest.mark.parametrize(
    "line",
    [
        "{} 1",
        'm{a="1" 1',
        "m{a=1} 1",
        'm{a="\\q"} 1',
        'm{1a="x"} 1',
        "m one",
        "m",
        'm{a="x"}x 1',
    ],
)
def test_malformed_lines_name_the_line(line: str) -> None:
    with pytest.raises(ExpositionError, match="line 2"):
        list(parse(f"ok 1\n{line}\n"))


@given(st.text(max_size=200))
def test_parse_fails_only_with_exposition_error(text: str) -> None:
    try:
        for sample in parse(text):
            assert isinstance(sample.value, float)
    except ExpositionError:
        pass
