"""``seawall postmortem JOURNAL``: draft a blameless postmortem in Markdown.

Exit codes: 0 drafted, 2 unreadable journal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seawall._errors import ConfigError
from seawall.gameday._journal import load_journal
from seawall.gameday._postmortem import draft_postmortem

__all__ = ["register"]


def _draft(args: argparse.Namespace) -> int:
    try:
        journal = load_journal(args.journal)
    except ConfigError as exc:
        print(f"seawall: {exc}", file=sys.stderr)
        return 2
    text = draft_postmortem(journal, journal_path=args.journal)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"postmortem: {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``postmortem``."""
    parser = subparsers.add_parser("postmortem", help="draft a blameless postmortem")
    parser.add_argument("journal", metavar="JOURNAL", help="journal.json of an experiment run")
    parser.add_argument("-o", "--output", help="write here instead of standard output")
    parser.set_defaults(func=_draft)
