"""pytest plugin (entry point ``seawall``): the ``fake_clock`` and ``fault_proxy`` fixtures.

Every test also starts with no log lines folded: the ``seawall`` logger folds identical
decisions within a second, and tests often reuse a policy name on a fresh ``FakeClock``
at 0.0, so one test's window would otherwise swallow the next test's first line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from seawall._events import clear_repeats
from seawall.testing import FakeClock

if TYPE_CHECKING:
    from seawall.chaos import FaultProxy


@pytest.fixture(autouse=True)
def _seawall_fresh_log_windows() -> None:
    clear_repeats()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`seawall.testing.FakeClock` starting at 0.0."""
    return FakeClock()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """Start fault-injection proxies for the test; all are stopped after it.

    ``proxy = fault_proxy("127.0.0.1:6379", rng=random.Random(1))`` returns a running
    :class:`seawall.chaos.FaultProxy` (on a loop thread of its own, so the test may be
    sync); connect to ``proxy.host``/``proxy.port`` and add toxics with
    ``proxy.add_toxic(...)`` or ``with proxy.toxic(...)``. Needs ``seawall[chaos]``.
    """
    # Imported here so the plugin loads without the chaos extra installed.
    from seawall.chaos import FaultProxy

    started: list[FaultProxy] = []

    def start(upstream: str, **options: Any) -> FaultProxy:
        proxy = FaultProxy(upstream, **options).__enter__()
        started.append(proxy)
        return proxy

    yield start
    for proxy in reversed(started):
        proxy.close()
