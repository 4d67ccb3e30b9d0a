"""Test-wide settings.

hypothesis' default 200 ms deadline per example measures the machine, not the code: on a
loaded 2-core CI box a correct parser can take longer once. Examples are bounded by
``max_examples`` instead; the per-test pytest-timeout still catches a hang.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("seawall", deadline=None)
settings.load_profile("seawall")
