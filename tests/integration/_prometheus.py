"""A throwaway Prometheus server on 127.0.0.1, shared by a whole test session.

Debian's ``prometheus`` runs with a temporary storage directory, a 200 ms scrape interval
and the lifecycle API on, so a test points it at its own targets with :meth:`scrape`
(a config rewrite plus ``POST /-/reload``) instead of starting a server of its own.
Queries go through the real HTTP API (``/api/v1/query``), as Grafana's would.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

SCRAPE_INTERVAL = "200ms"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """A running Prometheus: ``scrape()`` sets its targets, ``query()`` runs PromQL."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.url = f"http://127.0.0.1:{port}"
        self.config = root / "prometheus.yml"
        self.process: subprocess.Popen[bytes] | None = None

    def _write(self, jobs: Mapping[str, Sequence[str]], rule_files: Sequence[str] = ()) -> None:
        scrape_configs = [
            {
                "job_name": job,
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": SCRAPE_INTERVAL,
                "static_configs": [{"targets": list(targets)}],
            }
            for job, targets in jobs.items()
        ]
        config: dict[str, Any] = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": scrape_configs,
        }
        if rule_files:
            config["rule_files"] = list(rule_files)
        # JSON is YAML: no YAML writer needed for a config this small.
        self.config.write_text(json.dumps(config))

    def start(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install -y prometheus)")
        self._write({})
        with (self.root / "log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.root / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.root / 'log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def scrape(
        self,
        jobs: Mapping[str, Sequence[str]],
        *,
        rule_files: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        """Replace the scrape targets (``{"job": ["127.0.0.1:port", ...]}``) and reload.

        With ``wait``, returns once every target has been scraped successfully once.
        """
        self._write(jobs, rule_files)
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            if answer.status != 200:
                raise RuntimeError(f"prometheus reload answered {answer.status}")
        if not wait:
            return
        wanted = {(job, target) for job, targets in jobs.items() for target in targets}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            up = {
                (r["labels"].get("job"), r["labels"].get("instance"))
                for r in self.get("/api/v1/targets")["activeTargets"]
                if r.get("health") == "up"
            }
            if wanted <= up:
                return
            time.sleep(0.1)
        raise RuntimeError(f"prometheus did not scrape {sorted(wanted)} within 15 s")

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as answer:
            body = json.load(answer)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {path} failed: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        data = self.get("/api/v1/query", query=promql)
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of an instant query, or None when it returns no series."""
        result = self.query(promql)
        if not result:
            return None
        if len(result) > 1:
            raise AssertionError(f"{promql!r} returned {len(result)} series, wanted one")
        return float(result[0]["value"][1])


@contextlib.contextmanager
def prometheus() -> Iterator[Prometheus]:
    """Run a fresh Prometheus for the block."""
    root = Path(tempfile.mkdtemp(prefix="seawall-prom-"))
    server = Prometheus(root, _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
