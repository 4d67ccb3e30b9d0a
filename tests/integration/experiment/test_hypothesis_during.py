"""``runtime.hypothesis.strategy: during-method`` re-checks the hypothesis while the method
runs, on the runner's clock; with ``fail_fast`` a failed check stops the method at once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from seawall.experiment import Runner, outcome, parse_experiment
from tests.unit.experiment import probes

M = "tests.unit.experiment.probes"


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    probes.reset()
    yield
    probes.reset()


def act(name: str, func: str, kind: str = "action", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": M, "func": func},
    } | extra


def experiment(hypothesis: dict[str, Any], method: list[dict[str, Any]]) -> Any:
    doc = {
        "title": "during",
        "runtime": {"hypothesis": hypothesis},
        "steady-state-hypothesis": {
            "title": "healthy",
            "probes": [act("healthy", "health", "probe", tolerance=True)],
        },
        "method": method,
        "rollbacks": [act("mend", "mend")],
    }
    return parse_experiment(json.dumps(doc), "exp.json")


def test_the_hypothesis_is_checked_during_the_method() -> None:
    exp = experiment(
        {"strategy": "continuously", "frequency": 0.05},
        [
            act("wait", "note", pauses={"after": 0.3})
            | {
                "provider": {
                    "type": "python",
                    "module": M,
                    "func": "note",
                    "arguments": {"name": "w"},
                }
            }
        ],
    )
    journal = Runner(exp).run()
    during = journal["steady_states"]["during"]
    assert 2 <= len(during) <= 12
    assert all(state["steady_state_met"] for state in during)
    assert journal["steady_states"]["before"]
    assert journal["steady_states"]["after"]
    assert outcome(journal) == "completed"


def test_fail_fast_stops_the_method_when_a_check_during_it_fails() -> None:
    probes.state["healthy"] = False  # broken from the start: the first check during fails
    exp = experiment(
        {"strategy": "during-method", "frequency": 0.05, "fail_fast": True},
        [
            act("slow", "note", pauses={"before": 10})
            | {
                "provider": {
                    "type": "python",
                    "module": M,
                    "func": "note",
                    "arguments": {"name": "slow"},
                }
            },
            act("never", "note")
            | {
                "provider": {
                    "type": "python",
                    "module": M,
                    "func": "note",
                    "arguments": {"name": "never"},
                }
            },
        ],
    )
    started = time.monotonic()
    journal = Runner(exp).run()
    assert time.monotonic() - started < 5  # the 10 s pause was cut short
    assert "never" not in probes.calls
    assert journal["steady_states"]["before"] is None  # during-method only
    assert journal["steady_states"]["during"][0]["steady_state_met"] is False
    assert (journal["status"], journal["deviated"]) == ("completed", True)
    assert "fail_fast" in journal["error"]
    assert probes.calls[-1] == "mend"  # rolled back
