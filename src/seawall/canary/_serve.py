"""The judge over HTTP, for the two progressive-delivery controllers people run.

* **Argo Rollouts** (web metric provider): ``GET /judge?baseline=SEL&canary=SEL`` answers
  ``200`` with ``{"promote": true|false, "verdict": ..., "metrics": [...]}``; the
  AnalysisTemplate reads ``jsonPath: "{$.promote}"`` with ``successCondition: result ==
  true``. Optional ``window``, ``step`` and ``rate_window`` parameters.
* **Flagger** (webhooks): ``POST /flagger`` with Flagger's payload (``name``,
  ``namespace``, ``phase``, ``checksum``, ``metadata``) answers ``200`` to let the canary
  advance and ``422`` to fail the check, which Flagger counts towards its rollback
  threshold. Selectors come from ``metadata.baseline`` / ``metadata.canary``, by default
  the labels a ServiceMonitor gives Flagger's two services:
  ``namespace="NS",service="NAME-primary"`` and ``namespace="NS",service="NAME-canary"``.

A judge that cannot read Prometheus answers ``502`` with the reason: no controller may
read an outage of its metrics as a verdict. Bad requests get ``400``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from seawall._errors import ConfigError
from seawall.canary._judge import Judgement, check_confidence, judge
from seawall.canary._sources import Samples, SourceError, check_selector, from_prometheus

__all__ = ["JudgeServer", "judge_server"]

logger = logging.getLogger("seawall.canary")
MAX_BODY = 1 << 16
_LABEL_VALUE = re.compile(r'^[^"\\\n]{1,253}$')

Fetch = Callable[[str, str, dict[str, str]], Samples]


def _value(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _LABEL_VALUE.match(value):
        raise ConfigError(f"Flagger payload: {key!r} must be a non-empty string")
    return value


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fetch: Fetch, confidence: float) -> None:
        super().__init__(address, _Handler)
        self.fetch = fetch
        self.confidence = confidence

    def run(self, baseline: str, canary: str, options: dict[str, str]) -> Judgement:
        samples = self.fetch(
            check_selector(baseline, "baseline"), check_selector(canary, "canary"), options
        )
        return judge(samples, confidence=self.confidence)


class _Handler(BaseHTTPRequestHandler):
    server: JudgeServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("canary judge: " + format, *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, call: Callable[[], tuple[int, dict[str, Any]]]) -> None:
        try:
            status, payload = call()
        except ConfigError as exc:
            status, payload = 400, {"error": str(exc)}
        except SourceError as exc:
            status, payload = 502, {"error": str(exc)}
        except Exception:
            logger.exception("canary judge failed")
            status, payload = 500, {"error": "internal error"}
        self._send(status, payload)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/judge":
            self._send(404, {"error": f"not found: {url.path}"})
            return

        def run() -> tuple[int, dict[str, Any]]:
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            unknown = sorted(set(query) - {"baseline", "canary", "window", "step", "rate_window"})
            if unknown:
                raise ConfigError(f"unknown parameter {unknown[0]!r}")
            options: dict[str, str] = {
                k: query[k] for k in ("window", "step", "rate_window") if k in query
            }
            judgement = self.server.run(query.get("baseline", ""), query.get("canary", ""), options)
            return 200, judgement.to_json()

        self._answer(run)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/flagger":
            self._send(404, {"error": f"not found: {self.path}"})
            return

        def run() -> tuple[int, dict[str, Any]]:
            try:
                size = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                raise ConfigError("bad Content-Length") from None
            if not 0 < size <= MAX_BODY:
                raise ConfigError(f"a Flagger payload is a JSON body of at most {MAX_BODY} bytes")
            try:
                data = json.loads(self.rfile.read(size))
            except ValueError:
                raise ConfigError("the body is not JSON") from None
            if not isinstance(data, dict):
                raise ConfigError("a Flagger payload is a JSON object")
            name, namespace = _value(data, "name"), _value(data, "namespace")
            metadata = data.get("metadata")
            metadata = {} if metadata is None else metadata
            if not isinstance(metadata, dict):
                raise ConfigError("Flagger payload: 'metadata' must be an object")
            baseline = metadata.get("baseline", f'namespace="{namespace}",service="{name}-primary"')
            canary = metadata.get("canary", f'namespace="{namespace}",service="{name}-canary"')
            options = {
                k: str(metadata[k]) for k in ("window", "step", "rate_window") if k in metadata
            }
            judgement = self.server.run(str(baseline), str(canary), options)
            return (200 if judgement.promote else 422), judgement.to_json()

        self._answer(run)


def judge_server(
    prometheus: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    confidence: float = 0.98,
    window: str = "5m",
    step: str = "15s",
    rate_window: str = "1m",
) -> JudgeServer:
    """A judge answering Argo Rollouts and Flagger from the Prometheus at ``prometheus``;
    call ``serve_forever()`` (or run it in a thread) and ``shutdown()``."""
    defaults = {"window": window, "step": step, "rate_window": rate_window}

    def fetch(baseline: str, canary: str, options: dict[str, str]) -> Samples:
        merged = defaults | options
        return from_prometheus(
            prometheus,
            baseline,
            canary,
            window=merged["window"],
            step=merged["step"],
            rate_window=merged["rate_window"],
        )

    check_confidence(confidence)
    return JudgeServer((host, port), fetch, confidence)
