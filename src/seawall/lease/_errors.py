"""The errors of leader election and fencing.

::

    SeawallError
    ├── LeaseStoreError     the lease store (etcd, Redis) failed or answered nonsense
    └── StaleToken          a fenced write carried a token below the highest seen

Both live here, not in :mod:`seawall._errors`: they belong to ``seawall.lease`` alone.
A :class:`LeaseStoreError` never escapes the elector — a failed attempt is an event and,
for a leader, a step towards stepping down — but backends raise it to their shells.
"""

from __future__ import annotations

from seawall._errors import SeawallError

__all__ = ["LeaseStoreError", "StaleToken"]


class LeaseStoreError(SeawallError):
    """The lease store failed or answered something unexpected; ``code`` is its own code."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class StaleToken(SeawallError):
    """A fenced write was refused: its ``token`` is below the ``highest`` the store has seen.

    The writer was deposed: a newer leader (holding ``highest``) has written since. The
    write must not be retried with the same token; the writer is no longer the leader.
    """

    def __init__(self, resource: str, token: int, highest: int) -> None:
        super().__init__(
            f"fenced write to {resource!r} refused: token {token} is below the highest "
            f"token seen, {highest} (the writer was deposed)"
        )
        self.resource = resource
        self.token = token
        self.highest = highest
