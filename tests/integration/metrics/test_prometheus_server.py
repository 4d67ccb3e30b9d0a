"""The shared Prometheus fixture scrapes a real target and answers PromQL over HTTP."""

from __future__ import annotations

import time
from typing import Any


def test_prometheus_scrapes_a_target_and_answers_promql(prometheus_server: Any) -> None:
    # Prometheus scrapes its own /metrics: a real target with a known series.
    own = prometheus_server.url.removeprefix("http://")
    prometheus_server.scrape({"self": [own]})
    deadline = time.monotonic() + 10
    value = None
    while value is None and time.monotonic() < deadline:
        value = prometheus_server.value('up{job="self"}')
        time.sleep(0.1)
    assert value == 1.0
