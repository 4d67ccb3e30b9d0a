"""Chaos experiments in the Chaos Toolkit format: run them, report them, draft postmortems.

* :func:`load_experiment` / :func:`parse_experiment` read an experiment in the Chaos
  Toolkit shape (YAML or JSON) and validate it, naming the field and line of any problem;
* :class:`Runner` / :func:`run_experiment` run it - hypothesis, method, hypothesis,
  rollbacks always - and return the journal, which :func:`write_journal` saves;
* :func:`write_report` writes ``report.md`` and a self-contained ``report.html`` with
  latency, throughput and errors over time, fault windows shaded;
* :func:`draft_postmortem` drafts a blameless postmortem from a journal.

The CLI is ``seawall experiment run FILE`` and ``seawall postmortem FILE``
(``docs/experiments.md``). Needs the ``seawall[chaos]`` extra.
"""

from seawall.experiment._experiment import (
    Activity,
    Experiment,
    Hypothesis,
    load_experiment,
    parse_experiment,
)
from seawall.experiment._journal import load_journal, outcome, write_journal
from seawall.experiment._postmortem import draft_postmortem
from seawall.experiment._report import write_report
from seawall.experiment._runner import EXIT_CODES, Runner, run_experiment
from seawall.experiment._tolerance import within_tolerance

__all__ = [
    "EXIT_CODES",
    "Activity",
    "Experiment",
    "Hypothesis",
    "Runner",
    "draft_postmortem",
    "load_experiment",
    "load_journal",
    "outcome",
    "parse_experiment",
    "run_experiment",
    "within_tolerance",
    "write_journal",
    "write_report",
]
