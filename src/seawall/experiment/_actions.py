"""seawall's own actions (provider ``{"type": "seawall", "action": ...}``).

* ``proxy-toxic`` (``op: add|remove``), ``proxy-disable``, ``proxy-enable``,
  ``proxy-create``, ``proxy-delete``, ``proxy-reset``: the Toxiproxy REST API on
  ``control_url`` (default ``http://127.0.0.1:8474``) - seawall's proxy or a real Toxiproxy;
* ``start-process``, ``kill-process``, ``restart-process``, ``stop-process``: local processes;
* ``fill-disk`` (``op: add|remove``): one file of at most ``bytes`` under ``directory``;
* ``cpu-burn``: ``workers`` busy processes for ``seconds``;
* ``generate-load``: open-loop load against a URL, its per-second series kept for the report.

Faults open and close *fault windows* (shaded in the report's plots): a toxic from add to
remove, a disabled proxy until enabled, a killed process until restarted, a filled disk
until removed, a CPU burn while it runs. Every action is bounded in size and time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.experiment._context import ActivityFailed, RunContext
from seawall.experiment._fields import Field
from seawall.experiment._load import LoadSpec, generate_load
from seawall.experiment._processes import KillProcess, RestartProcess, StartProcess, StopProcess
from seawall.experiment._providers import Provider

__all__ = ["ACTIONS", "parse_seawall_action"]

MAX_FILL_BYTES = 16 * 1024**3
MAX_BURN_SECONDS = 600.0
MAX_BURN_WORKERS = 64
MAX_LOAD_RATE = 5000.0
MAX_LOAD_SECONDS = 3600.0
TOXIC_TYPES = frozenset(
    {"latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"}
)
_BASE = frozenset({"type", "action", "control_url"})
_CHUNK = 1024 * 1024


def _control_url(field: Field) -> str | None:
    url = field.get("control_url")
    if url.missing:
        return None
    if not url.string().startswith(("http://", "https://")):
        raise url.error(f"must be an http:// URL, not {url.value!r}")
    return url.string().rstrip("/")


@dataclass(frozen=True)
class ProxyCall:
    """One call of the Toxiproxy REST API, and the fault window it opens or closes."""

    action: str
    method: str
    path: str
    body: dict[str, Any] | None
    control_url: str | None
    fault: tuple[str, str] | None = None  # ("start"|"end", key)
    label: str = ""

    def describe(self) -> str:
        return f"{self.action}: {self.method} {self.path}"

    def run(self, ctx: RunContext) -> Any:
        import httpx

        base = self.control_url or ctx.control_url
        try:
            with httpx.Client(base_url=base, timeout=10.0) as client:
                response = client.request(self.method, self.path, json=self.body)
        except httpx.HTTPError as exc:
            raise ActivityFailed(f"proxy control API at {base} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise ActivityFailed(
                f"{self.method} {base}{self.path} answered {response.status_code}: "
                f"{response.text.strip()[:300]}"
            )
        if self.fault is not None:
            edge, key = self.fault
            if edge == "start":
                ctx.fault_started(key, self.label, self.action)
            else:
                ctx.fault_ended(key)
        try:
            return response.json() if response.content else {"status": response.status_code}
        except ValueError:
            return {"status": response.status_code, "body": response.text[:300]}


def _proxy_toxic(field: Field) -> ProxyCall:
    field.mapping(_BASE | {"op", "proxy", "toxic"})
    proxy = field.get("proxy", required=True).string()
    op = field.get("op").string(default="add", choices=("add", "remove"))
    toxic = field.get("toxic", required=True)
    toxic.mapping({"name", "type", "stream", "toxicity", "attributes"})
    kind = toxic.get("type", required=True).string(choices=TOXIC_TYPES)
    stream = toxic.get("stream").string(default="downstream", choices=("upstream", "downstream"))
    name = toxic.get("name").string(default=f"{kind}_{stream}")
    key = f"toxic:{proxy}/{name}"
    if op == "remove":
        path = f"/proxies/{proxy}/toxics/{name}"
        return ProxyCall("proxy-toxic", "DELETE", path, None, _control_url(field), ("end", key))
    attributes = toxic.get("attributes")
    values: dict[str, float] = {}
    for key_name, value in (attributes.mapping() if not attributes.missing else {}).items():
        values[key_name] = attributes.child(key_name, value).number()
    body = {
        "name": name,
        "type": kind,
        "stream": stream,
        "toxicity": toxic.get("toxicity").number(default=1.0, maximum=1.0),
        "attributes": {k: int(v) if v.is_integer() else v for k, v in values.items()},
    }
    label = f"{kind} on {proxy} ({stream})"
    path = f"/proxies/{proxy}/toxics"
    return ProxyCall("proxy-toxic", "POST", path, body, _control_url(field), ("start", key), label)


def _proxy_state(field: Field, enabled: bool) -> ProxyCall:
    field.mapping(_BASE | {"proxy"})
    proxy = field.get("proxy", required=True).string()
    action = "proxy-enable" if enabled else "proxy-disable"
    fault = ("end" if enabled else "start", f"proxy:{proxy}")
    body = {"enabled": enabled}
    url = _control_url(field)
    return ProxyCall(action, "POST", f"/proxies/{proxy}", body, url, fault, f"{proxy} disabled")


def _proxy_create(field: Field) -> ProxyCall:
    field.mapping(_BASE | {"proxy", "listen", "upstream"})
    body = {
        "name": field.get("proxy", required=True).string(),
        "listen": field.get("listen", required=True).string(),
        "upstream": field.get("upstream", required=True).string(),
        "enabled": True,
    }
    return ProxyCall("proxy-create", "POST", "/proxies", body, _control_url(field))


def _proxy_delete(field: Field) -> ProxyCall:
    field.mapping(_BASE | {"proxy"})
    proxy = field.get("proxy", required=True).string()
    return ProxyCall("proxy-delete", "DELETE", f"/proxies/{proxy}", None, _control_url(field))


def _proxy_reset(field: Field) -> ProxyCall:
    field.mapping(_BASE)
    return ProxyCall("proxy-reset", "POST", "/reset", None, _control_url(field))


@dataclass(frozen=True)
class FillDisk:
    directory: str
    file: str
    size: int
    op: str

    KEYS = frozenset({"type", "action", "directory", "file", "bytes", "op"})

    @classmethod
    def parse(cls, field: Field) -> FillDisk:
        field.mapping(cls.KEYS)
        name = field.get("file")
        file = name.string(default="seawall-fill.bin")
        if Path(file).name != file or file in (".", ".."):
            raise name.error("must be a plain file name inside 'directory', without '/'")
        op = field.get("op").string(default="add", choices=("add", "remove"))
        size = field.get("bytes")
        limit = f"at most {MAX_FILL_BYTES} (16 GiB)"
        if op == "add" and size.missing:
            raise field.error(f"missing required field 'bytes' ({limit})")
        return cls(
            directory=field.get("directory", required=True).string(),
            file=file,
            size=size.integer(
                default=0, minimum=0 if op == "remove" else 1, maximum=MAX_FILL_BYTES
            ),
            op=op,
        )

    def describe(self) -> str:
        return f"fill-disk {self.op} {self.directory}/{self.file}"

    def _target(self) -> Path:
        directory = Path(self.directory).resolve()
        if not directory.is_dir():
            raise ActivityFailed(f"{self.directory!r} is not a directory")
        target = (directory / self.file).resolve()
        if target.parent != directory:  # a symlink pointing elsewhere
            raise ActivityFailed(f"{target} is outside {directory}; refusing")
        return target

    def run(self, ctx: RunContext) -> Any:
        target = self._target()
        key = f"disk:{target}"
        if self.op == "remove":
            existed = target.exists()
            if existed:
                target.unlink()
            ctx.fill_files.discard(target)
            ctx.fault_ended(key)
            return {"path": str(target), "removed": existed}
        if target.exists() and target not in ctx.fill_files:
            raise ActivityFailed(f"{target} exists and was not written by this run; refusing")
        written, full = 0, False
        ctx.fill_files.add(target)
        ctx.fault_started(key, f"disk filled at {target.parent}", "fill-disk")
        chunk = b"\0" * _CHUNK
        with open(target, "wb") as out:
            while written < self.size and not ctx.stopped():
                try:
                    written += out.write(chunk[: min(_CHUNK, self.size - written)])
                    out.flush()
                except OSError as exc:
                    if exc.errno != 28:  # ENOSPC is the point; anything else is a failure
                        raise ActivityFailed(f"cannot write {target}: {exc.strerror}") from exc
                    full = True
                    break
            try:
                os.fsync(out.fileno())
            except OSError:
                full = True
        return {"path": str(target), "bytes_written": written, "disk_full": full}


_BURN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


@dataclass(frozen=True)
class CpuBurn:
    workers: int
    seconds: float

    KEYS = frozenset({"type", "action", "workers", "seconds"})

    @classmethod
    def parse(cls, field: Field) -> CpuBurn:
        field.mapping(cls.KEYS)
        return cls(
            workers=field.get("workers").integer(default=1, minimum=1, maximum=MAX_BURN_WORKERS),
            seconds=field.get("seconds", required=True).number(
                minimum=0.01, maximum=MAX_BURN_SECONDS
            ),
        )

    def describe(self) -> str:
        return f"cpu-burn {self.workers} worker(s) for {self.seconds:g}s"

    def run(self, ctx: RunContext) -> Any:
        script = _BURN.format(seconds=self.seconds)
        burners = [
            subprocess.Popen(
                [sys.executable, "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # the run stops them, not the terminal's Ctrl-C
            )
            for _ in range(self.workers)
        ]
        ctx.burners.extend(burners)
        key = f"cpu:{id(burners)}"
        ctx.fault_started(key, f"CPU burn x{self.workers}", "cpu-burn")
        try:
            ctx.wait(self.seconds)
        finally:
            for burner in burners:
                if burner.poll() is None:
                    burner.kill()
                burner.wait(timeout=10)
                ctx.burners.remove(burner)
            ctx.fault_ended(key)
        return {"workers": self.workers, "seconds": self.seconds, "stopped": ctx.stopped()}


@dataclass(frozen=True)
class GenerateLoad:
    spec: LoadSpec
    name: str

    KEYS = frozenset(
        {"type", "action", "url", "rate", "duration", "method", "timeout", "max_in_flight", "name"}
    )

    @classmethod
    def parse(cls, field: Field) -> GenerateLoad:
        field.mapping(cls.KEYS)
        url = field.get("url", required=True)
        if not url.string().startswith(("http://", "https://")):
            raise url.error(f"must be an http:// or https:// URL, not {url.value!r}")
        spec = LoadSpec(
            url=url.string(),
            rate=field.get("rate", required=True).number(minimum=0.1, maximum=MAX_LOAD_RATE),
            duration=field.get("duration", required=True).number(
                minimum=0.1, maximum=MAX_LOAD_SECONDS
            ),
            method=field.get("method").string(default="GET").upper(),
            timeout=field.get("timeout").number(default=5.0, minimum=0.001, maximum=120.0),
            max_in_flight=field.get("max_in_flight").integer(default=256, minimum=1, maximum=10000),
        )
        return cls(spec, field.get("name").string(default=spec.url))

    def describe(self) -> str:
        return f"load {self.spec.rate:g} req/s for {self.spec.duration:g}s on {self.spec.url}"

    def run(self, ctx: RunContext) -> Any:
        result = generate_load(self.spec, ctx.stop)
        started = round(max(0.0, ctx.elapsed() - result.pop("started_ago")), 6)
        ctx.add_load_run({"name": self.name, "start": started} | result)
        return {"name": self.name, "start": started, "summary": result["summary"]}


ACTIONS: dict[str, Callable[[Field], Provider]] = {
    "proxy-toxic": _proxy_toxic,
    "proxy-disable": lambda f: _proxy_state(f, enabled=False),
    "proxy-enable": lambda f: _proxy_state(f, enabled=True),
    "proxy-create": _proxy_create,
    "proxy-delete": _proxy_delete,
    "proxy-reset": _proxy_reset,
    "start-process": StartProcess.parse,
    "kill-process": KillProcess.parse,
    "restart-process": RestartProcess.parse,
    "stop-process": StopProcess.parse,
    "fill-disk": FillDisk.parse,
    "cpu-burn": CpuBurn.parse,
    "generate-load": GenerateLoad.parse,
}


def parse_seawall_action(field: Field) -> Provider:
    """The seawall action described by the provider mapping at ``field``."""
    action = field.get("action", required=True).string(choices=ACTIONS)
    return ACTIONS[action](field)
