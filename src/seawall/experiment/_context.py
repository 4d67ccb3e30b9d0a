"""What activities share while an experiment runs.

The :class:`RunContext` holds time (an injected :class:`~seawall._clock.Clock` and wall
clock, so unit tests never sleep), the stop signal that background activities obey, the
things the run started and must stop (processes, burners, fill files), and the records
the report is drawn from: fault windows, load series and the event timeline.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Clock

__all__ = ["ActivityFailed", "ManagedProcess", "RunContext", "iso"]

DEFAULT_CONTROL_URL = "http://127.0.0.1:8474"


class ActivityFailed(Exception):
    """An activity could not do what it was asked; the message says why."""


def iso(epoch: float) -> str:
    """Wall-clock seconds as an ISO 8601 UTC timestamp with milliseconds."""
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ManagedProcess:
    """A local process started by a ``start-process`` action, restartable by name."""

    name: str
    command: tuple[str, ...]
    cwd: str | None
    env: dict[str, str]
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None


@dataclass
class RunContext:
    """Shared state of one experiment run."""

    clock: Clock = SYSTEM_CLOCK
    wall: Callable[[], float] = time.time
    control_url: str = DEFAULT_CONTROL_URL
    workdir: Path | None = None
    # what Python providers that declare these parameters receive, as in Chaos Toolkit
    configuration: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    burners: list[subprocess.Popen[bytes]] = field(default_factory=list)
    fill_files: set[Path] = field(default_factory=set)
    fault_windows: list[dict[str, Any]] = field(default_factory=list)
    load_runs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    _open_faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _t0: float = 0.0
    _exempt: int | None = None

    def __post_init__(self) -> None:
        self._t0 = self.clock.now()

    # -- time -------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Seconds since the run started (on the injected clock)."""
        return round(self.clock.now() - self._t0, 6)

    def stopped(self) -> bool:
        """Whether the calling activity should stop early (the run was interrupted).

        Rollbacks run after an interruption too, so the thread running them is exempt.
        """
        return self.stop.is_set() and threading.get_ident() != self._exempt

    def exempt_current_thread(self) -> None:
        self._exempt = threading.get_ident()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; ``False`` when the stop signal cut the wait short."""
        if self.stopped():
            return False
        if threading.get_ident() == self._exempt:
            self.clock.sleep(seconds)  # the stop signal does not cut a rollback short
            return True
        return not self.clock.wait(self.stop, seconds)

    # -- records ----------------------------------------------------------------------

    def event(self, kind: str, message: str, **details: Any) -> None:
        with self._lock:
            self.events.append(
                {"t": self.elapsed(), "at": iso(self.wall()), "kind": kind, "message": message}
                | details
            )

    def fault_started(self, key: str, label: str, kind: str) -> None:
        """A fault began (a toxic, a kill, a full disk, a CPU burn)."""
        with self._lock:
            if key in self._open_faults:
                return
            window = {"key": key, "label": label, "kind": kind, "start": self.elapsed()}
            window["start_at"] = iso(self.wall())
            window["end"] = None
            window["end_at"] = None
            self._open_faults[key] = window
            self.fault_windows.append(window)
        self.event("fault-start", f"fault started: {label}", fault=key)

    def fault_ended(self, key: str) -> None:
        with self._lock:
            window = self._open_faults.pop(key, None)
            if window is None:
                return
            window["end"] = self.elapsed()
            window["end_at"] = iso(self.wall())
        self.event("fault-end", f"fault ended: {window['label']}", fault=key)

    def close_faults(self) -> None:
        """End every fault still open (at the end of the run)."""
        for key in list(self._open_faults):
            self.fault_ended(key)

    def add_load_run(self, run: dict[str, Any]) -> None:
        with self._lock:
            self.load_runs.append(run)

    # -- cleanup ----------------------------------------------------------------------

    def stop_process(self, managed: ManagedProcess, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        proc = managed.popen
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def cleanup(self) -> list[str]:
        """Stop and remove what the run started; returns what had to be cleaned."""
        cleaned: list[str] = []
        for burner in self.burners:
            if burner.poll() is None:
                burner.kill()
                cleaned.append(f"cpu burner pid {burner.pid}")
            burner.wait(timeout=10)
        self.burners.clear()
        for name, managed in list(self.processes.items()):
            if managed.popen.poll() is None:
                cleaned.append(f"process {name!r} (pid {managed.popen.pid})")
            self.stop_process(managed)
        self.processes.clear()
        for path in sorted(self.fill_files):
            if path.exists():
                os.unlink(path)
                cleaned.append(f"fill file {path}")
        self.fill_files.clear()
        for item in cleaned:
            self.event("cleanup", f"stopped or removed {item} left by the run")
        return cleaned
