"""Functions that experiments under test call as tolerance probes, as the docs' example."""

from __future__ import annotations

import re
from typing import Any


def search_text(search_for: str, value: dict[str, Any]) -> bool:
    return re.search(search_for, str(value.get("stdout", ""))) is not None


def explode(value: Any) -> bool:
    raise ConnectionError("the checker is down")
