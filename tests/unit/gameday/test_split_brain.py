"""The split-brain game day: same faults, naive flag versus lease versus lease + fencing."""

from __future__ import annotations

import pytest

from seawall.gameday import run_split_brain


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_only_a_lease_with_fencing_lands_no_conflicting_write(seed: int) -> None:
    result = run_split_brain(seed=seed, duration=60.0)
    naive, lease, fenced = (result.row(m) for m in ("naive", "lease", "lease + fencing"))
    # A flag keeps writing from the cut-off side while the other side elects a leader.
    assert naive.conflicting > 0
    assert naive.dual_leader_seconds > 0
    # The lease never lets two electors act at once ...
    assert lease.dual_leader_seconds == fenced.dual_leader_seconds == 0
    # ... but only fencing stops a write that was in flight when the term ended.
    assert fenced.conflicting == 0
    assert fenced.accepted + fenced.rejected == fenced.writes
    assert lease.accepted == lease.writes
    assert naive.conflicting > lease.conflicting


def test_the_scenario_is_deterministic_for_a_seed_and_prints_a_table() -> None:
    first = run_split_brain(seed=42, duration=30.0)
    assert first == run_split_brain(seed=42, duration=30.0)
    table = str(first)
    assert table.splitlines()[0].startswith("split brain: 4 workers (2 per side), 30s virtual")
    for label in ("naive: leader flag, no fencing", "seawall lease + fencing"):
        assert label in table
    header = table.splitlines()[2]
    assert "rejected (stale token)" in header
    assert "conflicting writes" in header


def test_workers_per_side_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers_per_side"):
        run_split_brain(workers_per_side=0)
