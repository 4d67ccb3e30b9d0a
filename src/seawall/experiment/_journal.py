"""The journal: everything one experiment run did, as JSON.

Shaped like a Chaos Toolkit journal, so its tools read it: ``experiment``, ``status``
(``completed``, ``failed``, ``interrupted``, ``aborted``) with ``deviated``,
``steady_states`` (``before``, ``after``, ``during``), ``run``, ``rollbacks`` (each
activity with ``activity``, ``status``, ``output``, ``exception``), ``start``, ``end``,
``duration``, ``node``, ``platform``, and ``seawall-version`` where chaos writes
``chaoslib-version``. Plus what seawall measures: ``fault_windows``, ``load``
(per-second series), ``events`` (the timeline), ``cleanup`` and ``rollbacks_skipped``.
Times are ISO 8601 UTC (``*_at``, ``start``, ``end``) and seconds since the run
started (``t``, ``t_start``, ``t_end``, window ``start``/``end``).
:func:`load_journal` also reads a plain Chaos Toolkit journal, so a postmortem can be
drafted from one.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError

__all__ = [
    "JOURNAL_VERSION",
    "STATUSES",
    "activity_error",
    "activity_name",
    "check_journal",
    "declared_rollbacks",
    "injected_faults",
    "jsonable",
    "load_journal",
    "outcome",
    "read_json",
    "redact",
    "seawall_version",
    "skipped_rollbacks",
    "timeline",
    "write_journal",
]

JOURNAL_VERSION = 1
STATUSES = ("completed", "deviated", "failed", "interrupted", "aborted")
_MAX_DEPTH = 64


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` made JSON-serialisable: unknown objects become their ``repr``."""
    if depth > _MAX_DEPTH:
        return "<nested too deeply>"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return repr(value)


def seawall_version() -> str:
    try:
        return importlib.metadata.version("seawall")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_REDACTED = "********"


_SHORTEST_INSIDE = 4


def redact(value: Any, secrets: dict[str, dict[str, Any]]) -> Any:
    """``value`` with every secret's text replaced wherever it appears in a string.

    A secret shorter than four characters is replaced only where it is the whole string:
    inside longer text it would blank out ordinary words and make the journal unreadable.
    """
    values = {str(v) for scope in secrets.values() for v in scope.values() if str(v)}
    inside = sorted((t for t in values if len(t) >= _SHORTEST_INSIDE), key=len, reverse=True)
    if not values:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            if item in values:
                return _REDACTED
            for text in inside:
                item = item.replace(text, _REDACTED)
            return item
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def outcome(journal: dict[str, Any]) -> str:
    """What the run showed: ``completed``, ``deviated``, ``failed``, ``interrupted``...

    Chaos Toolkit writes a deviation as ``status: completed`` with ``deviated: true``, and
    a hypothesis that did not hold *before* the method as ``completed`` too (its exit code
    is 0); both are told apart here, because a postmortem must not call either a success.
    """
    status = str(journal.get("status") or "unknown")
    if status in ("interrupted", "aborted", "failed"):
        return status
    if journal.get("deviated") is True or status == "deviated":
        return "deviated"
    before = (journal.get("steady_states") or {}).get("before")
    if isinstance(before, dict) and before.get("steady_state_met") is False:
        return "failed"
    return status


def activity_name(run: dict[str, Any]) -> str:
    """An activity record's name: seawall's ``name``, or chaos's ``activity.name``."""
    activity = run.get("activity")
    nested = activity.get("name") if isinstance(activity, dict) else None
    return str(run.get("name") or nested or "?")


def activity_error(run: dict[str, Any]) -> str | None:
    """Why an activity failed: seawall's ``error``, or the last line of chaos's ``exception``."""
    if run.get("error"):
        return str(run["error"])
    exception = run.get("exception")
    if isinstance(exception, list) and exception:
        lines = [str(line).strip() for line in exception if str(line).strip()]
        return lines[-1] if lines else None
    if isinstance(exception, str) and exception.strip():
        return exception.strip().splitlines()[-1]
    return None


def declared_rollbacks(journal: dict[str, Any]) -> list[str]:
    experiment = journal.get("experiment")
    declared = experiment.get("rollbacks") if isinstance(experiment, dict) else None
    if not isinstance(declared, list):
        return []
    return [activity_name(r) if isinstance(r, dict) else "?" for r in declared]


def skipped_rollbacks(journal: dict[str, Any]) -> list[str]:
    """Declared rollbacks the journal does not show ran, in declared order."""
    ran = [activity_name(r) for r in journal.get("rollbacks", []) if isinstance(r, dict)]
    skipped = []
    for name in declared_rollbacks(journal):
        if name in ran:
            ran.remove(name)
        else:
            skipped.append(name)
    return skipped


def injected_faults(journal: dict[str, Any]) -> list[str]:
    """The faults: seawall's fault windows, or else the method's actions that ran."""
    windows = [str(w.get("label")) for w in journal.get("fault_windows", [])]
    if windows:
        return windows
    faults = []
    for run in journal.get("run", []):
        kind = run.get("type") or (run.get("activity") or {}).get("type")
        if kind == "action" and run.get("status") != "skipped":
            faults.append(
                f"`{activity_name(run)}`"
                + ("" if run.get("status") == "succeeded" else f" ({run.get('status')})")
            )
    return faults


def _epoch(text: Any) -> float | None:
    try:
        stamp = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def timeline(journal: dict[str, Any]) -> list[tuple[str, float, str]]:
    """``(ISO time, seconds since start, event)``: seawall's events, or the runs' times."""
    events = journal.get("events") or []
    if events:
        return [
            (str(e.get("at", "")), float(e.get("t", 0) or 0), str(e.get("message", "")))
            for e in events
        ]
    origin = _epoch(journal.get("start"))
    states = journal.get("steady_states") or {}
    phases: list[tuple[str, list[Any]]] = [
        ("before", (states.get("before") or {}).get("probes") or []),
        ("method", journal.get("run") or []),
    ]
    for n, during in enumerate(states.get("during") or [], 1):
        phases.append((f"during #{n}", (during or {}).get("probes") or []))
    phases += [
        ("after", (states.get("after") or {}).get("probes") or []),
        ("rollback", journal.get("rollbacks") or []),
    ]
    rows: list[tuple[str, float, str]] = []
    if journal.get("start"):
        rows.append((str(journal["start"]), 0.0, "experiment started"))
    for phase, runs in phases:
        for run in runs:
            if not isinstance(run, dict):
                continue
            kind = run.get("type") or (run.get("activity") or {}).get("type") or "activity"
            label = f"{phase}: {kind} `{activity_name(run)}`"
            for key, what in (("start", "started"), ("end", str(run.get("status", "ended")))):
                at = _epoch(run.get(key))
                if at is None:
                    continue
                t = at - origin if origin is not None else 0.0
                detail = ""
                if key == "end" and run.get("status") == "failed":
                    detail = f": {activity_error(run)}"
                elif key == "end" and run.get("tolerance_met") is False:
                    detail = ", outside tolerance"
                rows.append((str(run[key]), t, f"{label} {what}{detail}"))
    end = _epoch(journal.get("end"))
    if end is not None and origin is not None:
        rows.append((str(journal["end"]), end - origin, f"experiment ended: {outcome(journal)}"))
    rows.sort(key=lambda row: row[1])
    return rows


def write_journal(journal: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(jsonable(journal), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a journal
    return path


def _expect(journal: dict[str, Any], key: str, kind: type, source: str) -> None:
    if key in journal and not isinstance(journal[key], kind):
        raise ConfigError(f"{source}: journal field {key!r} must be a {kind.__name__}")


def read_json(path: str | Path, what: str = "JSON document") -> Any:
    """The JSON value in ``path``; raises :class:`ConfigError` naming the file and why."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}: not a {what}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{source}: JSON nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts from text
        raise ConfigError(f"{source}: not a {what}: {exc}") from None


def check_journal(journal: Any, source: str) -> dict[str, Any]:
    """``journal`` if it has a journal's shape; raises :class:`ConfigError` if not."""
    if not isinstance(journal, dict):
        raise ConfigError(f"{source}: a journal is a JSON object")
    for key in ("experiment", "status"):
        if key not in journal:
            raise ConfigError(f"{source}: journal has no {key!r} field; is it a journal?")
    _expect(journal, "experiment", dict, source)
    _expect(journal, "status", str, source)
    for key in ("run", "rollbacks", "fault_windows", "load", "events"):
        _expect(journal, key, list, source)
    _expect(journal, "steady_states", dict, source)
    return journal


def load_journal(path: str | Path) -> dict[str, Any]:
    """Read a journal (seawall's or Chaos Toolkit's); raises :class:`ConfigError`."""
    return check_journal(read_json(path, "JSON journal"), str(path))
