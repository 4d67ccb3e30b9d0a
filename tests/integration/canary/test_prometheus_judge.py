"""The canary judge against a real Prometheus scraping baselines and canaries.

Thirty small services on 127.0.0.1 (ten seeds x baseline, good canary, bad canary) each
serve ``http_server_request_duration_seconds`` on ``/metrics``; a generator thread
records 400 requests a second into each from its own seeded random source (0.2 % 500s
for the baseline and the good canary, 5 % for the bad one; lognormal latency). The
session's Debian Prometheus scrapes them every 200 ms, and the judge reads them back
through Prometheus's HTTP API, from the CLI and from the HTTP mode Argo Rollouts calls.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from seawall.canary import from_prometheus, judge, judge_server
from seawall.cli import main
from seawall.gameday._versions import Version
from seawall.kube import panel_queries

SEEDS = range(10)
RATE = 400  # requests a second per service
TICK = 0.05
VARIANTS = {"baseline": 0.002, "good": 0.002, "bad": 0.05}


@pytest.fixture(scope="module")
def fleet(prometheus_server: Any) -> Iterator[dict[tuple[str, int], str]]:
    """``(variant, seed) -> instance``, with traffic recorded for a few seconds."""
    with ExitStack() as stack:
        services = {
            (variant, seed): stack.enter_context(Version(f"{variant}-{seed}", seed=seed))
            for variant in VARIANTS
            for seed in SEEDS
        }
        prometheus_server.scrape(
            {
                f"canary-{variant}": [
                    f"127.0.0.1:{services[variant, seed].server_port}" for seed in SEEDS
                ]
                for variant in VARIANTS
            }
        )
        rngs = {
            key: random.Random(f"{key[0]}-{key[1]}") for key in services
        }  # each service its own stream: baseline and good canary differ by chance only
        stop = threading.Event()

        def traffic() -> None:
            per_tick = int(RATE * TICK)
            while not stop.is_set():
                for key, service in services.items():
                    rng, error_ratio = rngs[key], VARIANTS[key[0]]
                    for _ in range(per_tick):
                        status = 500 if rng.random() < error_ratio else 200
                        service.histogram.observe(status, rng.lognormvariate(-5.0, 0.5))
                stop.wait(TICK)

        thread = threading.Thread(target=traffic, daemon=True)
        thread.start()
        time.sleep(6.5)
        yield {key: f"127.0.0.1:{service.server_port}" for key, service in services.items()}
        stop.set()
        thread.join(timeout=5)


def _selector(variant: str, instance: str) -> str:
    return f'job="canary-{variant}",instance="{instance}"'


def _judge(prometheus: Any, fleet: dict[tuple[str, int], str], variant: str, seed: int) -> Any:
    return judge(
        from_prometheus(
            prometheus.url,
            _selector("baseline", fleet["baseline", seed]),
            _selector(variant, fleet[variant, seed]),
            window="5s",
            step="500ms",
            rate_window="1s",
        )
    )


def test_bad_canary_rolls_back_and_equal_canary_promotes_over_ten_seeds(
    prometheus_server: Any, fleet: dict[tuple[str, int], str]
) -> None:
    verdicts = {
        (variant, seed): _judge(prometheus_server, fleet, variant, seed)
        for variant in ("good", "bad")
        for seed in SEEDS
    }
    for (variant, seed), judgement in verdicts.items():
        error = judgement.metrics[0]
        assert error.samples[0] >= 8, (variant, seed, judgement.summary())
        assert judgement.promote == (variant == "good"), (variant, seed, judgement.summary())
        if variant == "bad":
            assert error.classification == "high"
            assert 0.03 < (error.canary_mean or 0) < 0.07


def test_cli_exit_codes_against_prometheus(
    prometheus_server: Any, fleet: dict[tuple[str, int], str], capsys: pytest.CaptureFixture[str]
) -> None:
    for variant, code in (("good", 0), ("bad", 1)):
        argv = [
            *("canary", "judge", "--prometheus", prometheus_server.url),
            *("--baseline", _selector("baseline", fleet["baseline", 0])),
            *("--canary", _selector(variant, fleet[variant, 0])),
            *("--window", "5s", "--step", "500ms", "--rate-window", "1s", "--format", "json"),
        ]
        assert main(argv) == code
        assert json.loads(capsys.readouterr().out)["promote"] is (code == 0)


def test_argo_rollouts_web_metric_against_prometheus(
    prometheus_server: Any, fleet: dict[tuple[str, int], str]
) -> None:
    server = judge_server(
        prometheus_server.url, port=0, window="5s", step="500ms", rate_window="1s"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for variant in ("good", "bad"):
            query = urllib.parse.urlencode(
                {
                    "baseline": _selector("baseline", fleet["baseline", 1]),
                    "canary": _selector(variant, fleet[variant, 1]),
                }
            )
            url = f"http://127.0.0.1:{server.server_port}/judge?{query}"
            with urllib.request.urlopen(url, timeout=30) as answer:
                assert json.load(answer)["promote"] is (variant == "good")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_every_dashboard_query_runs_on_prometheus_and_server_panels_have_data(
    prometheus_server: Any, fleet: dict[tuple[str, int], str]
) -> None:
    queries = panel_queries("canary-bad", rate_interval="2s")
    answered = {q: prometheus_server.query(q) for q in queries}  # a bad query raises
    server = [q for q in queries if "http_server_request_duration_seconds" in q]
    assert len(server) == 4
    for query in server:
        assert answered[query], query
    [ratio] = [q for q in server if "5.." in q]
    [row] = answered[ratio]
    assert 0.03 < float(row["value"][1]) < 0.07
