"""seawall.lease: not in the top-level package, and importable without its optional clients."""

from __future__ import annotations

import subprocess
import sys

import seawall
import seawall.lease


def test_the_top_level_package_is_not_changed() -> None:
    assert "LeaderElector" not in seawall.__all__


def test_importing_needs_neither_httpx_nor_redis() -> None:
    code = (
        "import sys; sys.modules['httpx'] = None; sys.modules['redis'] = None\n"
        "import seawall.lease as lease\n"
        "store = lease.MemoryLeaseStore()\n"
        "assert lease.LeaderElector(store.lease()).is_leader() is False\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
