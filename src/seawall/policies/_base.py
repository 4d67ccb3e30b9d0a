"""What every policy shares: the call, ``acall`` and decorator forms, and composition.

A policy implements two small shells around its pure decision logic: ``_guard(fn, args,
kwargs)`` for sync callables and ``_aguard(fn, args, kwargs)`` for async ones. Everything
else — ``policy.call(fn, *a)``, ``await policy.acall(afn, *a)``, ``@policy`` on ``def``
and ``async def``, and pipelines — is routed through those two, so each policy's
behaviour is written once per shell and every form behaves the same.

The decorator form is the fast one: it binds the shell once, so a decorated call costs one
extra frame per policy and no allocation beyond the argument tuple.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

__all__ = ["Args", "Kwargs", "Policy"]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


class Policy:
    """Base class of every seawall policy and of :class:`Pipeline`."""

    __slots__ = ()

    def _guard(self, fn: Callable[..., T], args: Args, kwargs: Kwargs) -> T:
        raise NotImplementedError

    async def _aguard(self, fn: Callable[..., Awaitable[T]], args: Args, kwargs: Kwargs) -> T:
        raise NotImplementedError

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` under this policy."""
        return self._guard(fn, args, kwargs)

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` under this policy."""
        return await self._aguard(fn, args, kwargs)

    def __call__(self, fn: F) -> F:
        """Decorate ``fn`` (``def`` or ``async def``); its signature and hints are kept."""
        if inspect.iscoroutinefunction(fn):
            aguard = self._aguard

            @functools.wraps(fn)
            async def async_protected(*args: Any, **kwargs: Any) -> Any:
                return await aguard(fn, args, kwargs)

            return cast(F, async_protected)

        guard = self._guard

        @functools.wraps(fn)
        def protected(*args: Any, **kwargs: Any) -> Any:
            return guard(fn, args, kwargs)

        return cast(F, protected)
