"""Fallback: answer with something useful when the protected call fails.

Graceful degradation: "Recommendations service down? Show the page without
recommendations." A fallback turns a failure into a partial answer — a fixed value, or a
factory that receives the exception (and may be async under ``acall``). It is the
outermost layer of :func:`~seawall.standard`, so it also catches an open breaker or an
exhausted deadline. ``on=`` chooses which errors it may swallow, as in Retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall._errors import ConfigError
from seawall._events import Event, FallbackUsed
from seawall._validate import callable_or_none
from seawall._validate import name as policy_name
from seawall.policies._base import Policy
from seawall.policies._retry import ErrorFilter, error_filter

__all__ = ["Fallback"]

_MISSING: Any = object()


class Fallback(Policy):
    """Return ``value`` (or ``factory(exc)``) when the call fails with an error ``on`` matches."""

    __slots__ = ("_clock", "_events", "_factory", "_on", "fallbacks", "name", "value")

    def __init__(
        self,
        value: Any = _MISSING,
        *,
        factory: Callable[[BaseException], Any] | None = None,
        on: ErrorFilter = Exception,
        name: str = "fallback",
        clock: Clock | None = None,
    ) -> None:
        if (value is _MISSING) == (factory is None):
            raise ConfigError("Fallback takes exactly one of value= or factory=")
        callable_or_none(factory, "factory")
        self.value = value
        self._factory = factory
        self._on = error_filter(on)
        self.name = policy_name(name)
        self._clock = clock or SYSTEM_CLOCK
        self.fallbacks = 0  # failures answered with the fallback (read without a lock)
        self._events: list[Event] = []  # recorded facts, emitted by the driver

    def _use(self, exc: BaseException) -> None:
        """Count and record a failure answered with the fallback."""
        self.fallbacks += 1
        self._events.append(
            FallbackUsed(policy="fallback", name=self.name, at=self._clock.now(), error=exc)
        )

    def _answer(self, exc: BaseException) -> Any:
        """The fallback value for ``exc`` (the factory's, which may be awaitable)."""
        if self._factory is not None:
            return self._factory(exc)
        return self.value

    def _layout(self) -> tuple[str, ...]:
        return ("fallback",)

    def __repr__(self) -> str:
        return f"Fallback(name={self.name!r})"
