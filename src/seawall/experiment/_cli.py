"""``seawall experiment run|validate|report``.

``run FILE`` validates the experiment, runs it, writes ``journal.json`` and the report
(``report.md``, ``report.png``, ``report.html``) into ``--out`` and exits 0 when the
hypothesis held, 1 when it did not (deviated, or failed before or during the method),
2 on a malformed file and 130 after Ctrl-C or SIGTERM - once the rollbacks have run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from seawall._errors import ConfigError
from seawall.experiment._experiment import Experiment, load_experiment
from seawall.experiment._journal import load_journal, outcome, write_journal
from seawall.experiment._runner import EXIT_CODES, Runner
from seawall.experiment._validate import missing_controls, unrunnable

__all__ = ["register"]

_VAR = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)(?::(str|int|float|bool))?=(.*)$", re.S)


def _say(message: str) -> None:
    print(f"seawall: {message}", file=sys.stderr)


def parse_vars(pairs: list[str]) -> dict[str, Any]:
    """``--var NAME=VALUE`` (or ``NAME:int=VALUE``, ``:float``, ``:bool``) as a mapping."""
    values: dict[str, Any] = {}
    for pair in pairs:
        match = _VAR.match(pair)
        if match is None:
            raise ConfigError(f"--var {pair!r}: expected NAME=VALUE or NAME:TYPE=VALUE")
        name, kind, raw = match.groups()
        try:
            if kind == "int":
                values[name] = int(raw)
            elif kind == "float":
                values[name] = float(raw)
            elif kind == "bool":
                if raw.lower() not in ("true", "false"):
                    raise ValueError(raw)
                values[name] = raw.lower() == "true"
            else:
                values[name] = raw
        except ValueError:
            raise ConfigError(f"--var {pair!r}: {raw!r} is not {kind}") from None
    return values


def _default_out(title: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "experiment"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("seawall-runs") / f"{stamp}-{slug}"


def _sigterm_as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _write_reports(journal: dict[str, Any], out: Path) -> None:
    try:
        from seawall.experiment._report import write_report

        for path in write_report(journal, out):
            print(f"report: {path}")
    except ModuleNotFoundError as exc:
        _say(f"no report: {exc.name!r} is missing: pip install 'seawall[chaos]'")
    except Exception as exc:  # the journal is the record; a report failure must not hide it
        _say(f"report failed ({type(exc).__name__}: {exc}); the journal is complete")


def _load(file: str, pairs: list[str]) -> Experiment | None:
    """The experiment, validated as ``chaos validate`` does; ``None`` after saying why."""
    try:
        experiment = load_experiment(file, variables=parse_vars(pairs))
    except ConfigError as exc:
        _say(str(exc))
        return None
    except ModuleNotFoundError as exc:
        _say(f"this experiment needs {exc.name!r}: pip install 'seawall[chaos]'")
        return None
    problems = unrunnable(experiment)
    for problem in problems:
        _say(problem)
    return None if problems else experiment


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    experiment = _load(args.file, args.var)
    if experiment is None:
        return 2
    out = Path(args.out) if args.out else _default_out(experiment.title)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(f"--out {out}: cannot create: {exc.strerror or exc}")
        return 2
    log = None if args.quiet else _stderr
    runner = Runner(experiment, control_url=args.control_url, workdir=out, log=log, warn=_stderr)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt) if main_thread else None
    try:
        journal = runner.run()
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    path = write_journal(journal, out / "journal.json")
    print(f"journal: {path}")
    if not args.no_report:
        _write_reports(journal, out)
    status = outcome(journal)
    print(f"status: {status}")
    return EXIT_CODES.get(status, 1)


def _validate(args: argparse.Namespace) -> int:
    code = 0
    for file in args.files:
        experiment = _load(file, args.var)
        if experiment is None:
            code = 2
            continue
        for warning in missing_controls(experiment):
            _say(f"warning: {warning}")
        probes = len(experiment.hypothesis.probes) if experiment.hypothesis else 0
        print(
            f"{file}: ok ({probes} hypothesis probe(s), {len(experiment.method)} method "
            f"activit{'y' if len(experiment.method) == 1 else 'ies'}, "
            f"{len(experiment.rollbacks)} rollback(s))"
        )
    return code


def _report(args: argparse.Namespace) -> int:
    try:
        journal = load_journal(args.journal)
    except ConfigError as exc:
        _say(str(exc))
        return 2
    _write_reports(journal, Path(args.out) if args.out else Path(args.journal).parent)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``experiment`` with ``run``, ``validate`` and ``report``."""
    parser = subparsers.add_parser("experiment", help="run chaos experiments")

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    sub = parser.add_subparsers(dest="experiment_command", metavar="COMMAND")
    run = sub.add_parser("run", help="run an experiment; exit 1 when its hypothesis fails")
    run.add_argument("file", metavar="FILE", help="experiment, YAML or JSON")
    run.add_argument("--out", help="directory for journal and report (default seawall-runs/...)")
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME[:TYPE]=VALUE",
        help="override a configuration value (repeatable)",
    )
    run.add_argument(
        "--control-url",
        default="http://127.0.0.1:8474",
        help="Toxiproxy-compatible control API for proxy actions",
    )
    run.add_argument("--no-report", action="store_true", help="write the journal only")
    run.add_argument("--quiet", action="store_true", help="no progress on stderr")
    run.set_defaults(func=_run)
    validate = sub.add_parser("validate", help="check experiment files without running them")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--var", action="append", default=[], metavar="NAME[:TYPE]=VALUE")
    validate.set_defaults(func=_validate)
    report = sub.add_parser("report", help="write report.md and report.html from a journal")
    report.add_argument("journal", metavar="JOURNAL")
    report.add_argument("--out", help="directory (default: the journal's)")
    report.set_defaults(func=_report)
