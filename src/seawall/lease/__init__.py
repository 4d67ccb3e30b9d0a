"""Leader election that cannot produce two acting leaders, and fencing for the writes.

::

    from seawall.lease import EtcdLease, LeaderElector, SQLiteFencedStore

    store = SQLiteFencedStore("orders.db")
    elector = LeaderElector(EtcdLease("http://127.0.0.1:2379", "orders/leader"))
    with elector:
        while True:
            term = elector.wait_for_leadership()
            while elector.is_leader():
                store.write("cursor", next_batch(), token=term.token)

The elector has client-go's semantics (``lease_duration``, ``renew_deadline``,
``retry_period``) with the renew deadline counted so that a leader stops acting before
its lease can expire for anyone else; every term carries a fencing token from the store
that only ever increases; a :class:`FencedStore` rejects writes from deposed terms.
Backends: etcd v3 (:class:`EtcdLease`, the safe choice), Redis (:class:`RedisLease`,
single primary only), in-process (:class:`MemoryLeaseStore`, tests and simulations).
See ``docs/lease.md``.
"""

from seawall.lease._backend import AsyncLeaseBackend, LeaseBackend, Observation
from seawall.lease._election import (
    Election,
    LeaderChanged,
    Leadership,
    LeadershipAcquired,
    LeadershipChange,
    LeadershipLost,
    LeaseAttemptFailed,
    LeaseTiming,
    Step,
    StopReason,
)
from seawall.lease._elector import AsyncLeaderElector, LeaderElector, default_identity
from seawall.lease._errors import LeaseStoreError, StaleToken
from seawall.lease._etcd import AsyncEtcdLease, EtcdLease
from seawall.lease._fencing import FencedRecord, FencedStore, SQLiteFencedStore
from seawall.lease._memory import AsyncMemoryLease, MemoryLease, MemoryLeaseStore
from seawall.lease._redis import AsyncRedisLease, RedisLease

__all__ = [
    "AsyncEtcdLease",
    "AsyncLeaderElector",
    "AsyncLeaseBackend",
    "AsyncMemoryLease",
    "AsyncRedisLease",
    "Election",
    "EtcdLease",
    "FencedRecord",
    "FencedStore",
    "LeaderChanged",
    "LeaderElector",
    "Leadership",
    "LeadershipAcquired",
    "LeadershipChange",
    "LeadershipLost",
    "LeaseAttemptFailed",
    "LeaseBackend",
    "LeaseStoreError",
    "LeaseTiming",
    "MemoryLease",
    "MemoryLeaseStore",
    "Observation",
    "RedisLease",
    "SQLiteFencedStore",
    "StaleToken",
    "Step",
    "StopReason",
    "default_identity",
]
