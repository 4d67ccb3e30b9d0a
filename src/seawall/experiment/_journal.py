"""The journal: everything one experiment run did, as JSON.

Shaped like a Chaos Toolkit journal (``experiment``, ``status``, ``deviated``,
``steady_states``, ``run``, ``rollbacks``, ``start``, ``end``, ``duration``) plus what
seawall measures: ``fault_windows``, ``load`` (per-second series), ``events`` (the
timeline) and ``cleanup``. Times are ISO 8601 UTC (``*_at``, ``start``, ``end``) and
seconds since the run started (``t``, ``t_start``, ``t_end``, window ``start``/``end``).
:func:`load_journal` also reads a plain Chaos Toolkit journal, so a postmortem can be
drafted from one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError

__all__ = [
    "JOURNAL_VERSION",
    "STATUSES",
    "check_journal",
    "jsonable",
    "load_journal",
    "read_json",
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
