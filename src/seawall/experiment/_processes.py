"""seawall actions on local processes: start, kill (SIGKILL), restart and stop.

A process started by ``start-process`` is remembered by name, so ``kill-process`` and
``restart-process`` can act on it and the run stops it at the end whatever happened.
``kill-process`` also takes a pid file, for a process the experiment did not start; it
refuses pid 1, its own pid and its parent's. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.experiment._context import ActivityFailed, ManagedProcess, RunContext
from seawall.experiment._fields import Field

__all__ = ["KillProcess", "RestartProcess", "StartProcess", "StopProcess"]

MAX_WAIT = 120.0


@dataclass(frozen=True)
class Readiness:
    url: str | None = None
    port: int | None = None
    timeout: float = 10.0

    @classmethod
    def parse(cls, field: Field) -> Readiness | None:
        if field.missing:
            return None
        field.mapping({"url", "port", "timeout"})
        url, port = field.get("url"), field.get("port")
        if url.missing == port.missing:
            raise field.error("give exactly one of 'url' or 'port'")
        return cls(
            url=None if url.missing else url.string(),
            port=None if port.missing else port.integer(minimum=1, maximum=65535),
            timeout=field.get("timeout").number(default=10.0, minimum=0.1, maximum=MAX_WAIT),
        )

    def ready(self) -> bool:
        if self.port is not None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        import httpx

        assert self.url is not None
        try:
            httpx.get(self.url, timeout=0.5)
        except httpx.HTTPError:
            return False
        return True


def _tail(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_bytes()[-2000:].decode("utf-8", "replace")


def _spawn(
    ctx: RunContext, name: str, command: tuple[str, ...], cwd: str | None, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = (ctx.workdir or Path(tempfile.gettempdir())) / f"process-{name}.log"
    with open(log_path, "ab") as log:
        try:
            popen = subprocess.Popen(
                list(command),
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal must not reach it first
            )
        except OSError as exc:
            raise ActivityFailed(f"cannot start {command[0]!r}: {exc.strerror}") from exc
    return popen, log_path


def _await_ready(ctx: RunContext, managed: ManagedProcess, readiness: Readiness | None) -> None:
    if readiness is None:
        return
    end = ctx.clock.now() + readiness.timeout
    while not readiness.ready():
        if managed.popen.poll() is not None:
            raise ActivityFailed(
                f"process {managed.name!r} exited with {managed.popen.returncode} before it "
                f"was ready:\n{_tail(managed.log_path)}"
            )
        if ctx.clock.now() > end or not ctx.wait(0.05):
            raise ActivityFailed(
                f"process {managed.name!r} not ready within {readiness.timeout:g}s"
            )


@dataclass(frozen=True)
class StartProcess:
    name: str
    command: tuple[str, ...]
    cwd: str | None
    env: tuple[tuple[str, str], ...]
    wait_for: Readiness | None

    KEYS = frozenset({"type", "action", "name", "command", "cwd", "env", "wait_for"})

    @classmethod
    def parse(cls, field: Field) -> StartProcess:
        field.mapping(cls.KEYS)
        return cls(
            name=field.get("name", required=True).string(),
            command=field.get("command", required=True).strings(),
            cwd=field.get("cwd").optional_string(),
            env=tuple(field.get("env").string_map().items()),
            wait_for=Readiness.parse(field.get("wait_for")),
        )

    def describe(self) -> str:
        return f"start process {self.name!r}"

    def run(self, ctx: RunContext) -> Any:
        old = ctx.processes.get(self.name)
        if old is not None and old.popen.poll() is None:
            raise ActivityFailed(f"process {self.name!r} is already running")
        env = dict(self.env)
        popen, log_path = _spawn(ctx, self.name, self.command, self.cwd, env)
        managed = ManagedProcess(self.name, self.command, self.cwd, env, popen, log_path)
        ctx.processes[self.name] = managed
        _await_ready(ctx, managed, self.wait_for)
        return {"name": self.name, "pid": managed.popen.pid}


def _read_pid(path: str) -> int:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ActivityFailed(f"cannot read pid file {path!r}: {exc.strerror}") from exc
    if not text.isdigit():
        raise ActivityFailed(f"pid file {path!r} holds {text[:40]!r}, not a pid")
    pid = int(text)
    if pid <= 1 or pid in (os.getpid(), os.getppid()):
        raise ActivityFailed(f"refusing to kill pid {pid} (init, seawall itself or its parent)")
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent is a zombie: dead for us
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


@dataclass(frozen=True)
class KillProcess:
    name: str | None
    pid_file: str | None
    timeout: float

    KEYS = frozenset({"type", "action", "name", "pid_file", "timeout"})

    @classmethod
    def parse(cls, field: Field) -> KillProcess:
        field.mapping(cls.KEYS)
        name, pid_file = field.get("name"), field.get("pid_file")
        if name.missing == pid_file.missing:
            raise field.error("give exactly one of 'name' (a started process) or 'pid_file'")
        return cls(
            name=name.optional_string(),
            pid_file=pid_file.optional_string(),
            timeout=field.get("timeout").number(default=10.0, minimum=0.1, maximum=MAX_WAIT),
        )

    def describe(self) -> str:
        return f"kill process {self.name or self.pid_file!r}"

    def run(self, ctx: RunContext) -> Any:
        if self.name is not None:
            managed = ctx.processes.get(self.name)
            if managed is None:
                raise ActivityFailed(f"no process named {self.name!r} was started")
            pid, label = managed.popen.pid, self.name
        else:
            assert self.pid_file is not None
            pid, label, managed = _read_pid(self.pid_file), self.pid_file, None
        if managed is not None and managed.popen.poll() is not None:
            raise ActivityFailed(f"process {label!r} had already exited")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError as exc:
            raise ActivityFailed(f"process {label!r} (pid {pid}) does not exist") from exc
        ctx.fault_started(f"process:{label}", f"process {label} killed", "kill-process")
        end = ctx.clock.now() + self.timeout
        while managed.popen.poll() is None if managed else _alive(pid):
            if ctx.clock.now() > end:
                raise ActivityFailed(f"pid {pid} still alive {self.timeout:g}s after SIGKILL")
            ctx.clock.sleep(0.01)
        return {"killed": label, "pid": pid, "signal": "SIGKILL"}


@dataclass(frozen=True)
class RestartProcess:
    name: str
    wait_for: Readiness | None

    KEYS = frozenset({"type", "action", "name", "wait_for"})

    @classmethod
    def parse(cls, field: Field) -> RestartProcess:
        field.mapping(cls.KEYS)
        return cls(
            name=field.get("name", required=True).string(),
            wait_for=Readiness.parse(field.get("wait_for")),
        )

    def describe(self) -> str:
        return f"restart process {self.name!r}"

    def run(self, ctx: RunContext) -> Any:
        managed = ctx.processes.get(self.name)
        if managed is None:
            raise ActivityFailed(f"no process named {self.name!r} was started")
        old_pid = managed.popen.pid
        if managed.popen.poll() is None:
            managed.popen.kill()
            managed.popen.wait(timeout=10)
        managed.popen, managed.log_path = _spawn(
            ctx, managed.name, managed.command, managed.cwd, managed.env
        )
        _await_ready(ctx, managed, self.wait_for)
        ctx.fault_ended(f"process:{self.name}")
        return {"name": self.name, "old_pid": old_pid, "pid": managed.popen.pid}


@dataclass(frozen=True)
class StopProcess:
    name: str
    grace: float

    KEYS = frozenset({"type", "action", "name", "grace"})

    @classmethod
    def parse(cls, field: Field) -> StopProcess:
        field.mapping(cls.KEYS)
        return cls(
            name=field.get("name", required=True).string(),
            grace=field.get("grace").number(default=5.0, minimum=0.0, maximum=60.0),
        )

    def describe(self) -> str:
        return f"stop process {self.name!r}"

    def run(self, ctx: RunContext) -> Any:
        managed = ctx.processes.pop(self.name, None)
        if managed is None:
            return {"name": self.name, "stopped": False, "reason": "not running"}
        code = ctx.stop_process(managed, grace=self.grace)
        ctx.fault_ended(f"process:{self.name}")
        return {"name": self.name, "stopped": True, "exit_code": code}
