"""seawall.experiment and seawall.gameday: the split between the engine and the game day."""

from __future__ import annotations

import subprocess
import sys

import seawall.experiment
import seawall.gameday
import seawall.lease


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
