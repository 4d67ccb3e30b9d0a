"""The built-in game day: a small shop run naive and with seawall under the same faults.

``seawall gameday`` (``make demo``) starts the shop, replays each scenario's seeded fault
schedule against the naive gateway and then the seawall one, runs the split-brain
comparison and the operator checks, and writes ``gameday.html`` and ``gameday.json``:

* :func:`run_split_brain` compares a leader flag with seawall's lease, and lease plus
  fencing, on identical partitions and pauses (virtual time, deterministic for a seed);
* :func:`draft_gameday_postmortem` drafts a blameless postmortem from ``gameday.json``.

Chaos experiments written by users (the Chaos Toolkit format) live in
:mod:`seawall.experiment`. Needs the ``seawall[chaos]`` extra (and ``seawall[http]`` for
the shop).
"""

from seawall.gameday._postmortem import draft_gameday_postmortem
from seawall.gameday._split_brain import SplitBrainResult, SplitBrainRow, run_split_brain

__all__ = ["SplitBrainResult", "SplitBrainRow", "draft_gameday_postmortem", "run_split_brain"]
