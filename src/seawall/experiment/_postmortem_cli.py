"""``seawall postmortem FILE``: draft a blameless postmortem in Markdown.

``FILE`` is an experiment run's journal (``journal.json``, or a Chaos Toolkit journal) or
a game day's report (``gameday.json``); which one is told by its fields.

Exit codes: 0 drafted, 2 unreadable file, or neither a journal nor a game-day report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seawall._errors import ConfigError
from seawall.experiment._journal import check_journal, read_json
from seawall.experiment._postmortem import draft_postmortem
from seawall.gameday._postmortem import (
    check_gameday_report,
    draft_gameday_postmortem,
    is_gameday_report,
)

__all__ = ["register"]

_JOURNAL_FIELDS = ("experiment", "status")


def _drafted(path: str) -> str:
    """The draft for the file at ``path``; raises :class:`ConfigError`."""
    document = read_json(path, "JSON journal or game-day report")
    if is_gameday_report(document):
        return draft_gameday_postmortem(check_gameday_report(document, path), report_path=path)
    if isinstance(document, dict) and any(key in document for key in _JOURNAL_FIELDS):
        # Half a journal: say which of its fields is missing or wrong.
        return draft_postmortem(check_journal(document, path), journal_path=path)
    raise ConfigError(
        f"{path}: neither an experiment journal (with 'experiment' and 'status') "
        "nor a game-day report (with 'meta' and 'scenarios')"
    )


def _draft(args: argparse.Namespace) -> int:
    try:
        text = _drafted(args.file)
    except ConfigError as exc:
        print(f"seawall: {exc}", file=sys.stderr)
        return 2
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"seawall: {args.output}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"postmortem: {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``postmortem``."""
    parser = subparsers.add_parser("postmortem", help="draft a blameless postmortem")
    parser.add_argument(
        "file",
        metavar="FILE",
        help="journal.json of an experiment run, or gameday.json of a game day",
    )
    parser.add_argument("-o", "--output", help="write here instead of standard output")
    parser.set_defaults(func=_draft)
