"""The public surface of seawall.chaos is explicit and sorted."""

from __future__ import annotations

import seawall.chaos


def test_all_is_sorted_and_complete() -> None:
    exported = seawall.chaos.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in exported:
        assert hasattr(seawall.chaos, name)
    public = {n for n in vars(seawall.chaos) if n[0] not in "_@" and n != "annotations"}
    assert public == set(exported)
