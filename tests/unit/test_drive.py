"""The compiled driver's success path: what one call of standard() allocates."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import seawall
from seawall.testing import FakeClock


def seawall_objects() -> Counter[str]:
    """The live objects of seawall's own classes, by class name."""
    return Counter(type(o).__qualname__ for o in gc.get_objects() if _of_seawall(type(o).__dict__))


def _of_seawall(namespace: Any) -> bool:
    module = namespace.get("__module__")  # a class's own, not a metaclass descriptor
    return isinstance(module, str) and module.startswith("seawall.")


def test_a_successful_standard_call_allocates_one_object() -> None:
    # The first attempt's deadline scope is also the operation (attempt number, key).
    inside: list[Counter[str]] = []

    def work(x: int) -> int:
        inside.append(seawall_objects())
        return x

    call: Any = seawall.standard("db", clock=FakeClock())(work)
    call(1)  # compiled and warm
    inside.clear()
    before = seawall_objects()
    assert call(1) == 1
    made = inside[0] - before
    assert sum(made.values()) == 1, made
    assert seawall_objects() - before == Counter()  # and nothing outlives the call


def test_a_lone_breaker_compiles_to_its_own_steps_and_nothing_else() -> None:
    # Pruned at compile time: no retry loop, no deadline, no fallback, and no cells or
    # locals for them in the frame every call sets up.
    def work(x: int) -> int:
        return x

    call: Any = seawall.CircuitBreaker("db", clock=FakeClock())(work)
    assert call(7) == 7
    code = call.__code__
    # hook and seg: the one tracing check (spans only once tracing is installed).
    own = {"b_acquire", "b_now", "b_release", "b_window", "breaker", "fn", "hook", "seg"}
    assert set(code.co_freevars) <= own
    assert set(code.co_varnames) <= {"args", "kwargs", "gen", "result", "exc", "now", "span"}
