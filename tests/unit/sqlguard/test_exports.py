"""seawall.sqlguard: explicit sorted exports; the top-level package stays as it is."""

from __future__ import annotations

import seawall
import seawall.sqlguard


def test_all_is_sorted_unique_and_importable() -> None:
    names = seawall.sqlguard.__all__
    # sorted as ruff sorts: constants, then classes, then functions
    assert names == sorted(set(names), key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert hasattr(seawall.sqlguard, name), name
    public = {n for n in dir(seawall.sqlguard) if not n.startswith(("_", "@"))}
    assert public - set(names) == set()


def test_the_top_level_package_is_not_changed() -> None:
    assert "SqlRefused" not in seawall.__all__
