"""Request priority carried on a contextvar, like the deadline.

A load shedder used as a policy (``shedder.call(fn)``, ``@shedder``, inside a
:class:`~seawall.Pipeline`) has no argument to take a priority from, so the request's
priority travels the way its deadline does: the edge that knows it (the
``X-Request-Priority`` header, a job's class) opens a scope, and every layer below reads
it. Without a scope, a shedder uses its own ``default_priority``.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

from seawall._errors import ConfigError
from seawall.wire import PRIORITIES

__all__ = ["PRIORITY_RANK", "current_priority", "priority", "rank_of"]

# Lower rank, more important: the order PRIORITIES is written in.
PRIORITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(PRIORITIES)}

_current: ContextVar[str | None] = ContextVar("seawall_priority", default=None)


def rank_of(value: str) -> int:
    """The rank of a priority name (0 = critical); a clear ConfigError for anything else."""
    rank = PRIORITY_RANK.get(value)
    if rank is None:
        rank = PRIORITY_RANK.get(value.strip().lower()) if isinstance(value, str) else None
        if rank is None:
            raise ConfigError(f"priority must be one of {', '.join(PRIORITIES)}, got {value!r}")
    return rank


def current_priority() -> str | None:
    """The priority of the request being handled here, or ``None`` outside any scope."""
    return _current.get()


class priority:
    """Run the block at priority ``value`` (critical / high / normal / low).

    ``with seawall.priority("critical"):`` (or ``async with``). Scopes nest; the innermost
    wins — unlike deadlines, a callee may legitimately lower or raise its work's priority.
    """

    __slots__ = ("_token", "_value")

    def __init__(self, value: str) -> None:
        self._value = PRIORITIES[rank_of(value)]
        self._token: Token[str | None] | None = None

    def __enter__(self) -> str:
        if self._token is not None:
            raise RuntimeError("a priority scope cannot be entered twice at once")
        self._token = _current.set(self._value)
        return self._value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
