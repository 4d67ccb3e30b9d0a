"""WSGI overhead: ``seawall.wsgi.protect()`` under gunicorn against the bare app.

Requests/s of a trivial endpoint on gunicorn (one gthread worker, 4 threads, each app in
its own server), bare vs wrapped in ``seawall.wsgi.protect()`` (probes, deadline,
shedding, idempotency, X-Degraded), driven by ``wrk``. Each round measures both back to
back, alternating which goes first; the ratio is the median of the per-round ratios
(their spread is printed). Target >= 85 %.

As in ``http_overhead.py``, ``wrk``'s own ceiling (against a no-op server) is measured
first: if the bare app reaches more than half of it, the load generator may be the limit
and the ratio is not reported. Exit code 1 when the target is missed or cannot be
measured, 2 when ``wrk`` is missing. ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the shared wrk helpers live beside it

from benchmarks.http_overhead import (  # noqa: E402
    WRK_MISSING,
    Server,
    ceiling_rps,
    refusal,
    side_by_side,
    wrk_rps,
)

TARGET = 0.85


def gunicorn(app: str) -> Server:
    """``app`` on gunicorn: one gthread worker with 4 threads."""
    return Server(
        app,
        lambda port: [
            *("-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--worker-class", "gthread", "--threads", "4", "--log-level", "warning", app),
        ],
    )


def pair(rounds: int, seconds: float) -> tuple[float, float, list[float]]:
    """Median rates of the bare and protected apps, and each round's protected/bare ratio."""
    bare = gunicorn("benchmarks._wsgi_apps:bare")
    protected = gunicorn("benchmarks._wsgi_apps:protected")
    try:
        # No busy check per round (see http_overhead.server_rps): gunicorn's worker is a
        # child of the process started here, and its threads are not one busy core.
        return side_by_side(rounds, bare, protected, lambda server: wrk_rps(server.url, seconds))
    finally:
        bare.stop()
        protected.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(WRK_MISSING.replace("http_overhead.py", "wsgi_overhead.py"), file=sys.stderr)
        return 2
    rounds, seconds = (2, 1.0) if args.quick else (5, 3.0)
    ceiling = ceiling_rps(seconds)
    bare, protected, ratios = pair(rounds, seconds)
    ratio = statistics.median(ratios)
    refused = refusal(ceiling, bare)
    print("\n what                                  req/s      ratio   target   result")
    print(f" wrk against a no-op server       {ceiling:>10.0f}   (the load generator's ceiling)")
    print(f" bare WSGI app on gunicorn        {bare:>10.0f}   {bare / ceiling:6.1%} of the ceiling")
    if refused is not None:
        print(f" seawall.wsgi.protect() on it     {protected:>10.0f}      n/a   >= 85%   FAIL")
        print(f"\n{refused}")
        return 1
    print(
        f" seawall.wsgi.protect() on it     {protected:>10.0f}   {ratio:6.1%}   >= 85%   "
        f"{'PASS' if ratio >= TARGET else 'FAIL'}   "
        f"(rounds {min(ratios):.1%}-{max(ratios):.1%})"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
