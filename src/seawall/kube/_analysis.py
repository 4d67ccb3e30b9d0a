"""The Argo Rollouts ``AnalysisTemplate`` that asks ``seawall canary serve`` for a verdict.

Argo's web metric provider calls ``GET /judge`` every ``interval``, ``count`` times,
and reads ``{$.promote}``; one ``false`` (``failureLimit: 0``) aborts the rollout, so a
bad version goes back to zero traffic at the first verdict against it. The selectors
are the labels a ServiceMonitor gives the Rollout's ``canaryService`` and
``stableService`` (``NAME-canary`` and ``NAME-stable``), so the judge compares the new
pods with the stable ones under the same traffic.

::

    canary:
      judge: http://seawall-canary.monitoring:8080   # where `seawall canary serve` answers
      interval: 1m                                     # optional
      count: 5                                         # optional
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from seawall.kube._graph import Reader

__all__ = ["CanarySpec", "analysis_template", "parse_canary"]

_INTERVAL = re.compile(r"^[1-9][0-9]*(s|m|h)$")


@dataclass(frozen=True)
class CanarySpec:
    judge: str
    interval: str = "1m"
    count: int = 5


def parse_canary(reader: Reader, raw: Any) -> CanarySpec | None:
    """The ``canary:`` section of a spec, or None when absent."""
    if raw is None:
        return None
    keys = {"judge", "interval", "count"}
    if not isinstance(raw, dict):
        raise reader.fail(("canary",), "must be a mapping with 'judge' (the judge's URL)")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise reader.fail(("canary", unknown[0]), f"unknown key; expected one of {sorted(keys)}")
    judge = raw.get("judge")
    if not isinstance(judge, str):
        raise reader.fail(("canary", "judge"), f"{judge!r} is not an http(s) URL")
    parts = urlsplit(judge)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise reader.fail(("canary", "judge"), f"{judge!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise reader.fail(("canary", "judge"), "the judge URL takes no query or fragment")
    interval = raw.get("interval", "1m")
    if not isinstance(interval, str) or not _INTERVAL.match(interval):
        raise reader.fail(("canary", "interval"), f"{interval!r} is not a duration such as 1m")
    count = reader.integer(raw.get("count", 5), ("canary", "count"), 1)
    return CanarySpec(judge.rstrip("/"), interval, count)


def _selector(namespace: str | None, service: str) -> str:
    scope = f'namespace="{namespace}",' if namespace else ""
    return f'{scope}service="{service}"'


def analysis_template(
    metadata: dict[str, Any], service: str, namespace: str | None, canary: CanarySpec
) -> dict[str, Any]:
    """The AnalysisTemplate ``NAME-canary`` for ``service``."""
    query = urlencode(
        {
            "baseline": _selector(namespace, f"{service}-stable"),
            "canary": _selector(namespace, f"{service}-canary"),
        }
    )
    meta = dict(metadata) | {"name": f"{service}-canary"}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": meta,
        "spec": {
            "metrics": [
                {
                    "name": "seawall-canary-judge",
                    "interval": canary.interval,
                    "count": canary.count,
                    "failureLimit": 0,
                    "successCondition": "result == true",
                    "provider": {
                        "web": {
                            "url": f"{canary.judge}/judge?{query}",
                            "jsonPath": "{$.promote}",
                            "timeoutSeconds": 30,
                        }
                    },
                }
            ]
        },
    }
