"""The HTTP overhead benchmark refuses to measure what it cannot: no wrk, no numbers; a
load generator near its own ceiling, no server ratio. The timing targets themselves are
not asserted here (a timed assertion in a unit test is not a benchmark)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks import _ceiling
from benchmarks.http_overhead import (
    MAX_CEILING_SHARE,
    WRK_MISSING,
    Starved,
    busy_share,
    ceiling_rps,
    cpu_seconds,
    parse_wrk,
    refusal,
    side_by_side,
)
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

WRK_OK = """\
Running 1s test @ http://127.0.0.1:40123/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.41ms    0.52ms  10.06ms   91.09%
    Req/Sec     9.30k   310.22     9.71k    80.00%
  9296 requests in 1.00s, 1.22MB read
Requests/sec:   9296.37
Transfer/sec:      1.22MB
"""


def test_without_wrk_it_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # a PATH with no wrk on it
    done = subprocess.run(
        [sys.executable, "benchmarks/http_overhead.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", WRK_MISSING + "\n")


def test_a_bare_rate_near_the_generators_ceiling_is_not_reported() -> None:
    # A Python load generator's ceiling: the bare app "reaches" all of it.
    reason = refusal(ceiling=500.0, bare=493.0)
    assert reason is not None
    assert reason.startswith("server ratio not reported: the bare app's 493 req/s is 99% of")
    assert refusal(ceiling=28_000.0, bare=9_296.0) is None
    assert refusal(ceiling=20_000.0, bare=MAX_CEILING_SHARE * 20_000.0) is None
    assert refusal(ceiling=20_000.0, bare=MAX_CEILING_SHARE * 20_000.0 + 1) is not None


def test_wrk_reports_are_read_and_failed_runs_are_not_rates() -> None:
    assert parse_wrk(WRK_OK) == 9296.37
    with pytest.raises(RuntimeError, match="saw errors"):
        parse_wrk(WRK_OK.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec"))
    with pytest.raises(RuntimeError, match="saw errors"):
        parse_wrk(WRK_OK.replace("Requests/sec", "  Socket errors: connect 0, read 3\nReq/sec"))
    with pytest.raises(RuntimeError):
        parse_wrk("unable to connect to 127.0.0.1:9 Connection refused\n")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_wrk_output_is_a_rate_or_a_runtime_error(out: str) -> None:
    try:
        rate = parse_wrk(out)
    except RuntimeError:
        return
    assert rate >= 0


def test_the_ceiling_server_answers_pipelined_and_split_requests() -> None:
    async def exchange() -> bytes:
        server = await asyncio.get_running_loop().create_server(_ceiling._Answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            writer.write(request * 3 + request[:10])
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(request[10:])
            data = await asyncio.wait_for(reader.readexactly(4 * len(_ceiling.RESPONSE)), 2.0)
            writer.close()
            await writer.wait_closed()
            return data

    assert asyncio.run(exchange()) == _ceiling.RESPONSE * 4


@pytest.mark.integration
def test_wrk_drives_the_no_op_server_well_above_a_python_generator() -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("wrk is not installed (.ci/run installs it)")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    # Far above the ~500 req/s a Python load generator reaches, even on a busy machine.
    assert ceiling_rps(1.0) > 2_000


def test_a_round_in_which_a_server_was_starved_is_void_and_taken_again() -> None:
    calls: list[str] = []
    starved = iter([False, False, True, False, False, False, False, False])

    def rate(which: str) -> float:
        calls.append(which)
        if next(starved):
            raise Starved(0.4)
        return 100.0 if which == "plain" else 90.0

    plain, ours, ratios = side_by_side(2, "plain", "ours", rate)
    # Warm-up (2 calls), a void round (its first call), then two whole rounds.
    assert calls == ["plain", "ours", "plain", "ours", "plain", "plain", "ours"]
    assert (plain, ours, ratios) == (100.0, 90.0, [0.9, 0.9])


def test_too_many_void_rounds_fail_the_run_rather_than_report_noise() -> None:
    def rate(which: str) -> float:
        if which == "ours":
            raise Starved(0.5)
        return 100.0

    with pytest.raises(RuntimeError, match="rounds void"):
        side_by_side(3, "plain", "ours", rate)


def test_busy_share_is_cpu_over_wall_and_refuses_no_wall_time() -> None:
    assert busy_share(1.8, 2.0) == pytest.approx(0.9)
    for wall in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            busy_share(1.0, wall)


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="needs Linux schedstat")
def test_cpu_seconds_reads_a_running_process_and_none_for_a_gone_one() -> None:
    spent = cpu_seconds(os.getpid())
    assert spent is not None
    assert spent > 0
    assert cpu_seconds(2**22 + 12345) is None  # above Linux's pid_max: no such process
