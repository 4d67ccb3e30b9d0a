"""Every public package: an explicit ``__all__``, sorted, unique, importable, and complete."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = (
    "seawall",
    "seawall.chaos",
    "seawall.aiohttp",
    "seawall.experiment",
    "seawall.gameday",
    "seawall.grpc",
    "seawall.http",
    "seawall.kube",
    "seawall.lease",
    "seawall.requests",
    "seawall.sim",
    "seawall.sqlguard",
    "seawall.stores",
    "seawall.testing",
    "seawall.wire",
    "seawall.wsgi",
)


def isort_order(name: str) -> tuple[bool, bool, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022)."""
    return (not name.isupper(), not name[0].isupper(), name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_unique_importable_and_complete(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=isort_order)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), name
    # Subpackages and submodules are reached by attribute, not exported; so are what a
    # module imports from outside the package. pytest's assertion rewriting of the plugin
    # adds "@py_*" names, which are not API either.
    public = {
        n
        for n, value in vars(module).items()
        if n[0] not in "_@"
        and n != "annotations"
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", package).startswith(package)
    }
    assert public <= set(names)
