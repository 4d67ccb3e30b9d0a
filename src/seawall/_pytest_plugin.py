"""pytest plugin (entry point ``seawall``): the ``fake_clock`` fixture."""

from __future__ import annotations

import pytest

from seawall.testing import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`seawall.testing.FakeClock` starting at 0.0."""
    return FakeClock()
