"""seawall: make Python services fail well."""

from seawall._clock import SYSTEM_CLOCK, Clock, SystemClock
from seawall._deadline import current_deadline, deadline, downstream_timeout, remaining
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

__all__ = [
    "SYSTEM_CLOCK",
    "BulkheadFull",
    "CircuitOpen",
    "Clock",
    "ConfigError",
    "DeadlineExceeded",
    "HeaderError",
    "LoadShed",
    "Rejected",
    "SeawallError",
    "SystemClock",
    "current_deadline",
    "deadline",
    "downstream_timeout",
    "remaining",
]
