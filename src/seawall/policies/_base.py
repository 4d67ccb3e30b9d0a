"""What every policy shares: the call, ``acall`` and decorator forms, and composition.

A policy is a decision core; :mod:`seawall._drive` runs it. ``policy.call(fn, *a)``,
``await policy.acall(afn, *a)``, ``@policy`` on ``def`` and ``async def``, and pipelines
all go through that one driver, so every form behaves the same. A policy names the slots
of the standard order it fills (``_layout``); one with a shell of its own (a load shedder,
a cache) fills none and implements ``_guard``/``_aguard`` instead.

The decorator form is the fast one: it compiles the driver once, so a decorated call costs
one frame and no allocation beyond the argument tuple.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from seawall._catalog import enroll
from seawall._drive import chain_async, chain_sync

__all__ = ["Args", "Kwargs", "Policy"]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


class Policy:
    """Base class of every seawall policy and of :class:`Pipeline`."""

    # Weak references let the process-wide catalog (seawall.snapshot(), the metrics
    # collectors) list every policy without keeping any alive.
    __slots__ = ("__weakref__",)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        policy = super().__new__(cls)
        enroll(policy)
        return policy

    def _layout(self) -> tuple[str, ...]:
        """The driver slots this policy fills, outermost first; none: it has its own shell."""
        return ()

    def _stack(self) -> tuple[Policy, ...]:
        """The policies this one runs, outermost first."""
        return (self,)

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        return cast(T, chain_sync(self._stack(), fn)(*args, **kwargs))

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        return cast(T, await chain_async(self._stack(), fn)(*args, **kwargs))

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` under this policy."""
        return self._guard(fn, args, kwargs)

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` under this policy."""
        return await self._aguard(fn, args, kwargs)

    def __call__(self, fn: F) -> F:
        """Decorate ``fn`` (``def`` or ``async def``); its signature and hints are kept."""
        if inspect.iscoroutinefunction(fn):
            run = chain_async(self._stack(), fn)
        else:
            run = chain_sync(self._stack(), fn)
        run = functools.wraps(fn)(run)
        # The handle on a decorated function: its policies and, through
        # seawall.snapshot(fn.seawall), their counters.
        run.seawall = self  # type: ignore[attr-defined]
        return cast(F, run)
