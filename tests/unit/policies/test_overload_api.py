"""The overload names are public, exported once, and the error tree holds."""

from __future__ import annotations

import seawall

OVERLOAD_NAMES = {
    "AIMDLimit",
    "AdaptiveThrottle",
    "Cache",
    "CacheEntry",
    "CacheStats",
    "CacheStore",
    "FixedLimit",
    "GradientLimit",
    "Limit",
    "LoadShedder",
    "MemoryCacheStore",
    "OptionalPart",
    "PartDegraded",
    "PartialResult",
    "ShedderStats",
    "SingleFlight",
    "StaleServed",
    "ThrottleStats",
    "current_priority",
    "optional",
    "partial",
    "partial_sync",
    "priority",
    "singleflight",
}


def test_overload_names_are_exported() -> None:
    assert set(seawall.__all__) >= OVERLOAD_NAMES
    for name in OVERLOAD_NAMES:
        assert getattr(seawall, name) is not None


def test_overload_policies_are_policies_and_compose() -> None:
    policies = [
        seawall.LoadShedder("a"),
        seawall.AdaptiveThrottle("a"),
        seawall.SingleFlight("a"),
        seawall.Cache(1.0),
    ]
    for policy in policies:
        assert isinstance(policy, seawall.Policy)
    assert seawall.Pipeline(*policies).call(lambda: 42) == 42


def test_the_memory_store_satisfies_the_store_protocol() -> None:
    assert isinstance(seawall.MemoryCacheStore(), seawall.CacheStore)
    assert isinstance(seawall.GradientLimit(), seawall.Limit)
