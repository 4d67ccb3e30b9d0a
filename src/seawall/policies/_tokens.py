"""gRPC's retry throttling (gRFC A6): tokens that stop extra attempts while failures mount.

A client keeps ``token_count``, starting at ``max_tokens``: every failed attempt takes one
token away, every successful one gives back ``token_ratio``, and the count stays within
``[0, max_tokens]``. While the count is at or below half of ``max_tokens``, no extra
attempt (a hedge) is sent. A dependency failing often enough to drain the bucket gets
only the calls themselves; a run of successes opens it again. Only failures that would
have been retried count (a transient error, a non-fatal status in gRPC's words): an
answer that is an error, such as a 404, says nothing about overload.

This is the gRPC service config's ``retryThrottling`` (``maxTokens``, ``tokenRatio``),
as :class:`~seawall.Hedge` reads it. Unlike :class:`~seawall.RetryBudget` it does not
count calls: it reacts to failures, not to the share of extra attempts.
"""

from __future__ import annotations

import threading

from seawall._validate import real

__all__ = ["TokenThrottle"]


class TokenThrottle:
    """``max_tokens`` (10) tokens; a failure takes 1, a success gives ``token_ratio`` (0.1)."""

    __slots__ = ("_lock", "max_tokens", "token_ratio", "tokens")

    def __init__(self, max_tokens: float = 10.0, token_ratio: float = 0.1) -> None:
        # gRFC A6's bounds: 0 < maxTokens <= 1000, tokenRatio > 0.
        self.max_tokens = real(max_tokens, "max_tokens", low=0.0, high=1000.0, low_open=True)
        self.token_ratio = real(token_ratio, "token_ratio", low=0.0, high=1000.0, low_open=True)
        self.tokens = self.max_tokens
        self._lock = threading.Lock()

    def record(self, success: bool) -> None:
        """Count one attempt's outcome: a success, or a failure that would be retried."""
        with self._lock:
            if success:
                self.tokens = min(self.max_tokens, self.tokens + self.token_ratio)
            else:
                self.tokens = max(0.0, self.tokens - 1.0)

    def deposit(self) -> None:
        """A call starts: nothing to count (the tokens follow outcomes, not calls)."""

    def try_withdraw(self) -> bool:
        """True while an extra attempt may go: more than half of ``max_tokens`` are left."""
        return self.tokens > self.max_tokens / 2.0

    def __repr__(self) -> str:
        return (
            f"TokenThrottle(max_tokens={self.max_tokens:g}, token_ratio={self.token_ratio:g}, "
            f"tokens={self.tokens:g})"
        )
