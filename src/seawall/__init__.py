"""seawall: make Python services fail well.

The public API lives here and only here; every implementation module is private.
"""

from seawall._clock import SYSTEM_CLOCK, Clock, SystemClock
from seawall._deadline import Deadline, current_deadline, deadline, downstream_timeout, remaining
from seawall._errors import (
    BulkheadFull,
    CircuitOpen,
    ConfigError,
    DeadlineExceeded,
    HeaderError,
    LoadShed,
    Rejected,
    SeawallError,
)
from seawall._events import (
    AttemptStarted,
    BreakerStateChanged,
    CallRejected,
    Event,
    FallbackUsed,
    RetryRefused,
    RetryScheduled,
    TimedOut,
    add_hook,
    remove_hook,
)
from seawall._operation import current_attempt, idempotency_key
from seawall._pipeline import Pipeline, StandardPipeline, standard
from seawall.policies._backoff import Backoff
from seawall.policies._base import Policy
from seawall.policies._breaker import BreakerStats, CircuitBreaker
from seawall.policies._budget import RetryBudget, RetryBudgetStats
from seawall.policies._bulkhead import Bulkhead, BulkheadStats
from seawall.policies._fallback import Fallback
from seawall.policies._registry import Registry
from seawall.policies._retry import Retry, transient
from seawall.policies._timeout import Timeout

# Overload and herd protection: load shedding, adaptive limits, coalescing, caching.
# isort: split
from seawall._partial import (
    OptionalPart,
    PartDegraded,
    PartialResult,
    optional,
    partial,
    partial_sync,
)
from seawall._priority import current_priority, priority
from seawall._snapshot import PolicySnapshot, Snapshot, snapshot
from seawall.policies._cache import (
    Cache,
    CacheEntry,
    CacheStats,
    CacheStore,
    MemoryCacheStore,
    StaleServed,
)
from seawall.policies._limits import AIMDLimit, FixedLimit, GradientLimit, Limit
from seawall.policies._shedder import LoadShedder, ShedderStats
from seawall.policies._singleflight import SingleFlight, singleflight
from seawall.policies._throttle import AdaptiveThrottle, ThrottleStats

# --- end overload ---

__all__ = [
    "SYSTEM_CLOCK",
    "AIMDLimit",
    "AdaptiveThrottle",
    "AttemptStarted",
    "Backoff",
    "BreakerStateChanged",
    "BreakerStats",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadStats",
    "Cache",
    "CacheEntry",
    "CacheStats",
    "CacheStore",
    "CallRejected",
    "CircuitBreaker",
    "CircuitOpen",
    "Clock",
    "ConfigError",
    "Deadline",
    "DeadlineExceeded",
    "Event",
    "Fallback",
    "FallbackUsed",
    "FixedLimit",
    "GradientLimit",
    "HeaderError",
    "Limit",
    "LoadShed",
    "LoadShedder",
    "MemoryCacheStore",
    "OptionalPart",
    "PartDegraded",
    "PartialResult",
    "Pipeline",
    "Policy",
    "PolicySnapshot",
    "Registry",
    "Rejected",
    "Retry",
    "RetryBudget",
    "RetryBudgetStats",
    "RetryRefused",
    "RetryScheduled",
    "SeawallError",
    "ShedderStats",
    "SingleFlight",
    "Snapshot",
    "StaleServed",
    "StandardPipeline",
    "SystemClock",
    "ThrottleStats",
    "TimedOut",
    "Timeout",
    "add_hook",
    "current_attempt",
    "current_deadline",
    "current_priority",
    "deadline",
    "downstream_timeout",
    "idempotency_key",
    "optional",
    "partial",
    "partial_sync",
    "priority",
    "remaining",
    "remove_hook",
    "singleflight",
    "snapshot",
    "standard",
    "transient",
]
