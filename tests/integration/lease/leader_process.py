"""A leader in its own process, to be killed with SIGKILL by the tests.

usage: python leader_process.py etcd|redis URL KEY LEASE RENEW RETRY
Prints ``leader <token>`` when it starts leading, then runs until killed.
"""

from __future__ import annotations

import sys
import threading

from seawall.lease import EtcdLease, LeaderElector, Leadership, RedisLease


def main() -> None:
    kind, url, key, lease, renew, retry = sys.argv[1:7]
    backend = EtcdLease(url, key) if kind == "etcd" else RedisLease(url, key, socket_timeout=0.5)

    def started(term: Leadership) -> None:
        print(f"leader {term.token}", flush=True)

    LeaderElector(
        backend,
        identity=f"victim-{kind}",
        lease_duration=float(lease),
        renew_deadline=float(renew),
        retry_period=float(retry),
        on_started_leading=started,
    ).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
