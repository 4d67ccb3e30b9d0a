"""The etcd v3 backend, through etcd's JSON gateway (``/v3/...``, etcd >= 3.4) with httpx.

One attempt is two or three gateway calls:

1. ``/v3/lease/keepalive`` on the session's lease (or ``/v3/lease/grant`` when there is none
   or it is gone): the lease now expires ``TTL`` seconds after etcd handled the call,
   which was after the attempt started — the bound the elector's timing relies on;
2. ``/v3/kv/txn``. A candidate: *if* the key's create revision is 0 (nobody holds it)
   *then* put it, bound to the lease, *else* read it. Winning makes the put's revision
   the key's create revision: the term's fencing token — etcd's revision only ever
   increases and the key is created afresh for every term. A leader: *if* the key's
   create revision is still its token *then* put it again (renewed) *else* read it (lost).

The key vanishes when its lease expires or is revoked, which is how a crashed leader's
term ends — but etcd sweeps for expired leases only every 500 ms. So a leader rewrites
its key on every renewal (client-go updates its lock record the same way), and a
candidate that has watched the key's mod revision stay unchanged for a whole
``lease_duration`` deletes it (3., a txn comparing that mod revision) and takes it: the
holder stopped acting ``lease_duration - renew_deadline`` before. That bounds failover by
``lease_duration + retry_period`` on the candidate's clock, as in client-go; the etcd
lease remains the backstop. If a txn's answer was lost after etcd applied it, the next
attempt sees the session's own lease on the key and carries on with that term.

The flow is written once, as a generator of gateway calls (httpx's auth-flow pattern);
:class:`EtcdLease` and :class:`AsyncEtcdLease` each drive it in a few lines. Several
endpoints may be given: a call that cannot connect, times out or meets an etcd member
without a leader moves on to the next endpoint while the attempt's time lasts.

Why the gateway and httpx rather than a client library: python-etcd3, the usual choice,
is unmaintained — its last release (0.12.0, 2020) no longer imports with protobuf >= 4
(kragniz/python-etcd3#1957, #2709, open) — and it brings the compiled grpcio stack; the
JSON gateway is served by every etcd >= 3.4 on the client port, httpx is already
seawall's HTTP client (sync and asyncio alike), and the four calls used here are all the
election needs.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from seawall._clock import SYSTEM_CLOCK, Clock
from seawall.lease._backend import Observation
from seawall.lease._errors import LeaseStoreError

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncEtcdLease", "EtcdLease"]

C = TypeVar("C")

_Call = tuple[str, dict[str, Any]]
_Flow = Generator[_Call, dict[str, Any], Any]

# gRPC codes (as the gateway reports them) worth trying another member for.
_NOT_FOUND = 5
_MOVE_ON = frozenset({4, 14})  # DEADLINE_EXCEEDED, UNAVAILABLE ("no leader", "timed out")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _error_of(body: dict[str, Any], status: int) -> LeaseStoreError | None:
    error = body.get("error")
    if error is None:
        return None
    if isinstance(error, dict):  # a streaming call's error
        message = str(error.get("message", error))
        code = error.get("grpc_code")
    else:
        message = str(body.get("message", error))
        code = body.get("code")
    return LeaseStoreError(
        f"etcd: {message} (HTTP {status})", code=code if isinstance(code, int) else None
    )


class _Session:
    """One elector's etcd lease, its term's token, and the flows that use them."""

    def __init__(self, key: str, now: Callable[[], float]) -> None:
        self.key = _b64(key.encode())
        self.lease_id: int | None = None
        self.token: int | None = None
        self._now = now
        # The other holder's key version (create, mod revision) and when we first saw it.
        self._seen: tuple[tuple[int, int], float] | None = None

    def acquire_or_renew(self, identity: str, lease_duration: float) -> _Flow:
        if self.lease_id is not None:
            reply = yield "/v3/lease/keepalive", {"ID": str(self.lease_id)}
            result = reply.get("result", reply)
            if int(result.get("TTL", 0)) <= 0:  # expired or revoked: start a new session
                self.lease_id = self.token = None
        if self.lease_id is None:
            reply = yield "/v3/lease/grant", {"TTL": max(1, math.ceil(lease_duration))}
            self.lease_id = int(reply["ID"])
        put = {
            "request_put": {
                "key": self.key,
                "value": _b64(identity.encode()),
                "lease": str(self.lease_id),
            }
        }
        if self.token is not None:
            # Renewing: rewrite the key, so candidates see the renewal (client-go's record
            # update) and can take over from a holder that stopped renewing.
            reply = yield from self._txn(self._compare("CREATE", self.token), [put])
            if reply.get("succeeded"):
                return Observation(True, self.token, identity)
            self.token = None
        else:
            stale = self._stale(lease_duration)
            if stale is not None:
                # The holder has not renewed for a whole lease_duration as we watched:
                # its leadership ended by its own renew deadline. Delete its key — unless
                # it renewed after all, which changes the key's mod revision.
                create, mod = stale
                compare = [*self._compare("CREATE", create), *self._compare("MOD", mod)]
                yield from self._txn(compare, [{"request_delete_range": {"key": self.key}}])
            reply = yield from self._txn(self._compare("CREATE", 0), [put])
            if reply.get("succeeded"):
                self.token = int(reply["header"]["revision"])
                self._seen = None
                return Observation(True, self.token, identity)
        kvs = reply["responses"][0]["response_range"].get("kvs") or []
        if not kvs:
            return Observation(False)
        kv = kvs[0]
        holder = base64.b64decode(kv.get("value", "")).decode("utf-8", "replace")
        create, mod = int(kv["create_revision"]), int(kv["mod_revision"])
        if int(kv.get("lease", 0)) == self.lease_id:
            # Our own put, whose answer was lost: that term is ours.
            self.token = create
            self._seen = None
            return Observation(True, create, holder)
        now = self._now()
        if self._seen is None or self._seen[0] != (create, mod):
            self._seen = ((create, mod), now)
        return Observation(False, create, holder, max(0.0, self._seen[1] + lease_duration - now))

    def release(self) -> _Flow:
        lease, self.lease_id, self.token = self.lease_id, None, None
        if lease is not None:
            yield "/v3/lease/revoke", {"ID": str(lease)}  # deletes the key with it

    def _compare(self, target: str, revision: int) -> list[dict[str, str]]:
        field = "create_revision" if target == "CREATE" else "mod_revision"
        return [{"key": self.key, "target": target, field: str(revision), "result": "EQUAL"}]

    def _stale(self, lease_duration: float) -> tuple[int, int] | None:
        seen = self._seen
        if seen is None or self._now() < seen[1] + lease_duration:
            return None
        return seen[0]

    def _txn(self, compare: list[dict[str, str]], success: list[dict[str, Any]]) -> _Flow:
        txn = {
            "compare": compare,
            "success": success,
            "failure": [{"request_range": {"key": self.key}}],
        }
        try:
            reply: dict[str, Any] = yield "/v3/kv/txn", txn
        except LeaseStoreError as exc:
            if exc.code == _NOT_FOUND:  # the lease expired between keepalive and txn
                self.lease_id = self.token = None
            raise
        return reply


class _Endpoints:
    def __init__(self, endpoints: str | Sequence[str]) -> None:
        urls = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        if not urls:
            raise ValueError("at least one etcd endpoint is needed")
        self.urls = [u.rstrip("/") for u in urls]
        self.current = 0

    def rotate(self) -> None:
        self.current = (self.current + 1) % len(self.urls)


class _Exchange:
    """One attempt's gateway calls: the flow's next call on the endpoint to try next.

    The drivers post what :meth:`post` names and report the outcome (:meth:`answer` or
    :meth:`fail`); a call that cannot connect, times out or meets a member without a
    leader moves on to the next endpoint while the attempt's time lasts. ``post()`` is
    None once the flow is done, and ``value`` is then its result.
    """

    def __init__(self, flow: _Flow, endpoints: _Endpoints, now: Callable[[], float], limit: float):
        self._flow = flow
        self._endpoints = endpoints
        self._now = now
        self._until = now() + limit
        self.value: Any = None
        self._call: _Call | None = None
        self._error: LeaseStoreError | None = None
        self._tries = 0
        self._step(functools.partial(next, flow))

    def _step(self, resume: Callable[[], _Call]) -> None:
        try:
            self._call = resume()
        except StopIteration as done:
            self._call, self.value = None, done.value
        self._error, self._tries = None, 0

    def post(self) -> tuple[str, dict[str, Any], float] | None:
        """The next post: (url, JSON body, timeout), or None when the flow is done."""
        while self._call is not None:
            path, body = self._call
            left = self._until - self._now()
            if left > 0 and self._tries < len(self._endpoints.urls):
                return self._endpoints.urls[self._endpoints.current] + path, body, left
            error = self._error or LeaseStoreError(f"etcd {path}: timed out")
            self._step(functools.partial(self._flow.throw, error))
        return None

    def answer(self, response: httpx.Response) -> None:
        try:
            reply = response.json()
        except ValueError as exc:
            self.fail(exc)
            return
        error = _error_of(reply, response.status_code)
        if error is None:
            self._step(functools.partial(self._flow.send, dict(reply)))
        elif error.code not in _MOVE_ON:
            self._step(functools.partial(self._flow.throw, error))
        else:
            self._move_on(error)

    def fail(self, exc: Exception) -> None:
        assert self._call is not None
        error = LeaseStoreError(f"etcd {self._call[0]}: {exc!r}")
        error.__cause__ = exc
        self._move_on(error)

    def _move_on(self, error: LeaseStoreError) -> None:
        self._error = error
        self._tries += 1
        self._endpoints.rotate()


class _Shell(Generic[C]):
    """What both clients share: the endpoints, the session and the client they own."""

    def __init__(
        self,
        endpoints: str | Sequence[str],
        key: str = "seawall/leader",
        *,
        client: C | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._endpoints = _Endpoints(endpoints)
        self._clock = clock or SYSTEM_CLOCK
        self._session = _Session(key, self._clock.now)
        self._client: C = client or self._make_client()
        self._own_client = client is None

    def _make_client(self) -> C:
        raise NotImplementedError

    def _exchange(self, flow: _Flow, limit: float) -> _Exchange:
        return _Exchange(flow, self._endpoints, self._clock.now, limit)

    @property
    def lease_id(self) -> int | None:
        """The etcd lease of the current session, if any."""
        return self._session.lease_id


class EtcdLease(_Shell["httpx.Client"]):
    """A :class:`~seawall.lease.LeaseBackend` on etcd v3: one election key, one lease.

    ``endpoints`` are client URLs (``http://127.0.0.1:2379``); pass ``client`` to bring
    your own :class:`httpx.Client` (TLS, limits). Not thread-safe: one elector uses it.
    """

    def _make_client(self) -> httpx.Client:
        import httpx

        return httpx.Client(trust_env=False)

    def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        result: Observation = self._drive(
            self._session.acquire_or_renew(identity, lease_duration), limit
        )
        return result

    def release(self, limit: float) -> None:
        self._drive(self._session.release(), limit)

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _drive(self, flow: _Flow, limit: float) -> Any:
        import httpx

        exchange = self._exchange(flow, limit)
        while (post := exchange.post()) is not None:
            url, body, timeout = post
            try:
                exchange.answer(self._client.post(url, json=body, timeout=timeout))
            except httpx.TransportError as exc:
                exchange.fail(exc)
        return exchange.value


class AsyncEtcdLease(_Shell["httpx.AsyncClient"]):
    """The asyncio form of :class:`EtcdLease`, on an :class:`httpx.AsyncClient`."""

    def _make_client(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(trust_env=False)

    async def try_acquire_or_renew(
        self, identity: str, lease_duration: float, limit: float
    ) -> Observation:
        result: Observation = await self._drive(
            self._session.acquire_or_renew(identity, lease_duration), limit
        )
        return result

    async def release(self, limit: float) -> None:
        await self._drive(self._session.release(), limit)

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def _drive(self, flow: _Flow, limit: float) -> Any:
        import httpx

        exchange = self._exchange(flow, limit)
        while (post := exchange.post()) is not None:
            url, body, timeout = post
            try:
                exchange.answer(await self._client.post(url, json=body, timeout=timeout))
            except httpx.TransportError as exc:
                exchange.fail(exc)
        return exchange.value
