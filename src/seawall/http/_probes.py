"""Health probes for Kubernetes: ``/livez``, ``/readyz``, ``/startupz``.

* **liveness** answers "is this process able to make progress?" — it is served from the
  event loop itself, so a blocked loop fails it by not answering, and it never checks
  downstreams: a dependency outage must not make Kubernetes restart every replica.
* **readiness** answers "should traffic come here now?" — false until startup finished,
  false as soon as draining starts (graceful shutdown), and false when a registered check
  fails; each check runs with its own short timeout, all concurrently.
* **startup** answers "has initialisation finished?", so slow starts are not killed by
  liveness.

Plain text by default; ``?verbose`` returns JSON with each check's result and timing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from seawall.http._asgi import Scope, Send

__all__ = ["PROBE_PATHS", "Health", "probe_paths", "probe_reply"]

# Paths that are probes wherever they appear: never shed, never held to a deadline.
PROBE_PATHS = frozenset({"/livez", "/readyz", "/startupz", "/healthz"})

Check = Callable[[], Awaitable[Any] | Any]


@dataclass(frozen=True, slots=True)
class _Registered:
    name: str
    check: Check
    timeout: float


class Health:
    """The state the probes report: started, draining, and readiness checks."""

    def __init__(self, *, started: bool = False) -> None:
        self._started = started
        self._draining = False
        self._checks: list[_Registered] = []
        self._born = time.monotonic()

    @property
    def is_started(self) -> bool:
        return self._started

    @property
    def is_draining(self) -> bool:
        return self._draining

    def mark_started(self) -> None:
        """Startup finished: /startupz and (checks permitting) /readyz turn 200."""
        self._started = True

    def start_draining(self) -> None:
        """Shutdown began: /readyz turns 503 at once so load balancers stop sending."""
        self._draining = True

    def add_check(self, name: str, check: Check, *, timeout: float = 1.0) -> None:
        """Register a readiness check: a (possibly async) callable; falsy or raising fails."""
        if not timeout > 0:
            raise ValueError("a readiness check needs a positive timeout")
        self._checks.append(_Registered(name, check, timeout))

    async def _run(self, item: _Registered) -> tuple[str, bool, str, float]:
        start = time.monotonic()
        try:
            async with asyncio.timeout(item.timeout):
                result = item.check()
                if inspect.isawaitable(result):
                    result = await result
            ok, detail = (bool(result) or result is None), "ok"
            if not ok:
                detail = "check returned false"
        except TimeoutError:
            ok, detail = False, f"timed out after {item.timeout}s"
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return item.name, ok, detail, (time.monotonic() - start) * 1000

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        results = await asyncio.gather(*(self._run(c) for c in self._checks))
        checks = {name: {"ok": ok, "detail": d, "ms": round(ms, 2)} for name, ok, d, ms in results}
        ready = self._started and not self._draining and all(ok for _, ok, _, _ in results)
        return ready, {
            "status": "ready" if ready else "not ready",
            "started": self._started,
            "draining": self._draining,
            "checks": checks,
        }

    def liveness(self) -> dict[str, Any]:
        return {"status": "alive", "uptime_s": round(time.monotonic() - self._born, 3)}

    async def respond(self, kind: str, scope: Scope, send: Send) -> None:
        """Answer probe ``kind`` (live / ready / startup) for the request in ``scope``."""
        verbose = b"verbose" in scope.get("query_string", b"")
        if kind == "ready":
            ok, details = await self.readiness()
        else:
            ok, details = self.answer(kind)
        status, headers, body = probe_reply(ok, details, verbose=verbose)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def answer(self, kind: str) -> tuple[bool, dict[str, Any]]:
        """Probe ``kind``'s verdict without awaiting; readiness here skips the checks.

        Liveness and startup never await anything. Readiness without registered checks
        is decided by the started and draining flags alone, which is how an edge without
        an event loop (WSGI) answers it on the request's thread.
        """
        if kind == "live":
            return True, self.liveness()
        if kind == "ready":
            ready = self._started and not self._draining
            return ready, {
                "status": "ready" if ready else "not ready",
                "started": self._started,
                "draining": self._draining,
                "checks": {},
            }
        ok = self.is_started
        return ok, {"status": "started" if ok else "starting"}

    @property
    def has_checks(self) -> bool:
        """Whether readiness runs registered checks (and so needs an event loop)."""
        return bool(self._checks)


def probe_reply(
    ok: bool, details: dict[str, Any], *, verbose: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a probe answer, for any transport (ASGI, WSGI)."""
    if verbose:
        body, ctype = json.dumps(details).encode(), b"application/json"
    else:
        body, ctype = (b"ok\n" if ok else f"{details['status']}\n".encode()), b"text/plain"
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    return (200 if ok else 503), headers, body


def probe_paths(
    livez: str = "/livez", readyz: str = "/readyz", startupz: str = "/startupz"
) -> dict[str, str]:
    """Probe paths to the probe each answers (the ``kind`` :meth:`Health.respond` takes)."""
    return {livez: "live", readyz: "ready", startupz: "startup"}
