"""seawall.experiment and seawall.gameday: explicit sorted exports, and the split between them."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import seawall.experiment
import seawall.gameday
import seawall.lease


def _isort_style(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("module", [seawall.experiment, seawall.gameday])
def test_all_is_sorted_unique_and_importable(module: ModuleType) -> None:
    names = module.__all__
    assert len(names) == len(set(names))
    assert names == sorted(names, key=_isort_style)  # ruff's RUF022 order
    for name in names:
        assert hasattr(module, name), name
    public = {n for n in dir(module) if not n.startswith(("_", "@"))}
    assert public - set(names) == set()


def test_the_split_brain_scenario_belongs_to_the_game_day_not_the_lease_package() -> None:
    assert "run_split_brain" in seawall.gameday.__all__
    assert "run_split_brain" not in seawall.lease.__all__


def test_the_experiment_engine_does_not_import_the_game_day_and_seawall_needs_no_yaml() -> None:
    code = (
        "import sys, seawall\n"
        "assert 'yaml' not in sys.modules\n"
        "import seawall.experiment\n"
        "assert not any(m.startswith('seawall.gameday') for m in sys.modules)\n"
        "assert not any(m.startswith('seawall.kube') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
