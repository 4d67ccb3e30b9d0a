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

from hypothesis import settings

settings.register_profile("seawall", deadline=None)
settings.register_profile("seawall-ci", deadline=None, derandomize=True, database=None)
settings.load_profile("seawall-ci" if os.environ.get("CI") == "true" else "seawall")
