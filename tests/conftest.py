"""Test-wide settings.

hypothesis' default 200 ms deadline per example measures the machine, not the code: on a
loaded 2-core CI box a correct parser can take longer once. Examples are bounded by
``max_examples`` instead; the per-test pytest-timeout still catches a hang.

Under ``CI=true`` the examples are derandomized: CI judges a change by the same examples
every run, so a red build is about the change, never about which examples were drawn.
Exploration happens on developers' machines, whose example database keeps every failure
found until it is fixed.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from seawall._pushback import clear

settings.register_profile("seawall", deadline=None)
settings.register_profile("seawall-ci", deadline=None, derandomize=True, database=None)
settings.load_profile("seawall-ci" if os.environ.get("CI") == "true" else "seawall")


@pytest.fixture(autouse=True)
def _no_spent_note_between_tests() -> None:
    """Each test starts without a "retries spent" note on the main thread's context.

    A test that has a retry budget refuse a dead dependency's retries leaves the note in
    the context it ran in, as one request of a server thread would; the next test is a
    new request, and its edges must not answer "do not retry" for the last one.
    """
    clear()
