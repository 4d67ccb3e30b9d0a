"""The public surface of seawall.sim is explicit and sorted."""

from __future__ import annotations

import seawall.sim


def test_all_is_sorted_and_complete() -> None:
    exported = seawall.sim.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in exported:
        assert hasattr(seawall.sim, name)
    public = {n for n in vars(seawall.sim) if n[0] not in "_@" and n != "annotations"}
    assert public == set(exported)


def test_sim_is_reached_from_seawall() -> None:
    from seawall import sim

    assert sim.World is seawall.sim.World
