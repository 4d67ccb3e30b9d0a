"""Where the judge's samples come from: Prometheus, or the services' ``/metrics``.

Kayenta compares time series, not two numbers: each metric becomes one sample per
interval for the baseline and one for the canary, and the test ranks them.

* :func:`from_prometheus` runs range queries over the last ``window`` at ``step``
  through Prometheus's HTTP API, selecting each side with label matchers (for example
  ``job="checkout",track="canary"``).
* :func:`from_metrics` scrapes each side's ``/metrics`` ``samples + 1`` times,
  ``interval`` apart, and turns each pair of scrapes into one interval's error ratio and
  latency percentiles, so no Prometheus is needed.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from seawall._errors import ConfigError
from seawall.canary._exposition import SERVER_DURATION, ExpositionError, Totals, quantile, totals

__all__ = ["QUANTILES", "Samples", "SourceError", "from_metrics", "from_prometheus", "queries"]

QUANTILES = {"latency_p50_seconds": 0.5, "latency_p99_seconds": 0.99}
Samples = dict[str, tuple[list[float], list[float]]]


class SourceError(Exception):
    """Prometheus or a service could not be read: the judge cannot answer."""


def queries(selector: str, rate_window: str) -> dict[str, str]:
    """The PromQL of each judged metric for the pods ``selector`` matches."""
    total = f"sum(rate({SERVER_DURATION}_count{{{selector}}}[{rate_window}]))"
    errors = (
        f"sum(rate({SERVER_DURATION}_count"
        f'{{{selector},http_response_status_code=~"5.."}}[{rate_window}]))'
    )
    out = {"error_ratio": f"({errors} or vector(0)) / {total}"}
    for metric, q in QUANTILES.items():
        out[metric] = (
            f"histogram_quantile({q}, sum by (le) "
            f"(rate({SERVER_DURATION}_bucket{{{selector}}}[{rate_window}])))"
        )
    return out


_SELECTOR = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"')


def check_selector(text: str, what: str) -> str:
    """Label matchers without braces (``job="web",track="canary"``); anything that
    could close the selector and smuggle in more PromQL is refused."""
    if not text or not _SELECTOR.match(text) or "{" in text or "}" in text:
        raise ConfigError(f'{what}: {text!r} is not label matchers such as job="checkout"')
    return text


def _get(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceError(f"{url}: {reason}") from None


def _range(base: str, promql: str, start: float, end: float, step: float) -> list[float]:
    params = urllib.parse.urlencode(
        {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    )
    try:
        body = json.loads(_get(f"{base}/api/v1/query_range?{params}", timeout=30))
    except ValueError:
        raise SourceError(f"{base}: not a Prometheus API answer") from None
    if body.get("status") != "success":
        raise SourceError(f"{base}: {body.get('error', 'query failed')} in {promql}")
    result = body["data"]["result"]
    if len(result) > 1:
        raise SourceError(f"{promql} returned {len(result)} series; the selector must be one")
    values = [float(v) for _t, v in result[0]["values"]] if result else []
    return [v for v in values if not math.isnan(v)]


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            number = text.removesuffix(unit)
            try:
                value = float(number) * units[unit]
            except ValueError:
                break
            if value > 0 and math.isfinite(value):
                return value
            break
    raise ConfigError(f"{text!r} is not a duration such as 30s, 5m or 500ms")


def from_prometheus(
    url: str,
    baseline: str,
    canary: str,
    *,
    window: str = "5m",
    step: str = "15s",
    rate_window: str = "1m",
    now: Callable[[], float] = time.time,
) -> Samples:
    """Samples of every judged metric over the last ``window`` from Prometheus at ``url``."""
    span, every = _duration(window), _duration(step)
    _duration(rate_window)
    if every * 2 > span:
        raise ConfigError(f"step {step} leaves fewer than two samples in window {window}")
    check_selector(baseline, "baseline")
    check_selector(canary, "canary")
    base = url.rstrip("/")
    end = now()
    start = end - span
    sides = [queries(baseline, rate_window), queries(canary, rate_window)]
    return {
        metric: (
            _range(base, sides[0][metric], start, end, every),
            _range(base, sides[1][metric], start, end, every),
        )
        for metric in sides[0]
    }


def _scrape(urls: Sequence[str]) -> Totals:
    summed = Totals()
    for url in urls:
        try:
            page = totals(_get(url, timeout=10).decode("utf-8", "replace"))
        except ExpositionError as exc:
            raise SourceError(f"{url}: {exc}") from None
        summed.requests += page.requests
        summed.errors += page.errors
        for le, n in page.buckets.items():
            summed.buckets[le] = summed.buckets.get(le, 0.0) + n
    return summed


def _interval(delta: Totals) -> dict[str, float]:
    if delta.requests <= 0:
        return {}
    out = {"error_ratio": delta.errors / delta.requests}
    for metric, q in QUANTILES.items():
        out[metric] = quantile(q, delta.buckets)
    return out


def from_metrics(
    baseline: Sequence[str],
    canary: Sequence[str],
    *,
    samples: int = 10,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Samples:
    """Samples from the services' ``/metrics`` URLs (several instances a side are summed);
    an interval without requests on a side gives that side no sample."""
    if samples < 2:
        raise ConfigError(f"samples must be at least 2, got {samples}")
    if not interval > 0 or not math.isfinite(interval):
        raise ConfigError(f"interval must be a positive number of seconds, got {interval!r}")
    with ThreadPoolExecutor(max_workers=2) as pool:

        def both() -> tuple[Totals, Totals]:
            b, c = pool.submit(_scrape, baseline), pool.submit(_scrape, canary)
            return b.result(), c.result()

        scrapes = [both()]
        for _ in range(samples):
            sleep(interval)
            scrapes.append(both())
    out: Samples = {m: ([], []) for m in ("error_ratio", *QUANTILES)}
    for earlier, later in itertools.pairwise(scrapes):
        for side in (0, 1):
            for metric, value in _interval(later[side].minus(earlier[side])).items():
                out[metric][side].append(value)
    return out
