"""``seawall canary``: usage errors and unreadable sources are one line and exit 2."""

from __future__ import annotations

import socket

import pytest

from seawall.cli import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


QUERY = ["canary", "judge", "--prometheus", "http://x", "--baseline", 'a="1"']


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["canary", "judge"], "--prometheus URL"),
        (["canary", "judge", "--prometheus", "http://x"], "needs --baseline and --canary"),
        (
            [*QUERY, "--canary", 'a="2"', "--canary-url", "http://y"],
            "not both",
        ),
        ([*QUERY, "--canary", 'a="2"}) or vector(1'], "not label matchers"),
        (
            [*QUERY, "--canary", 'a="2"', "--window", "forever"],
            "not a duration",
        ),
        (
            [*QUERY, "--canary", 'a="2"', "--window", "10s", "--step", "15s"],
            "fewer than two samples",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_prometheus_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    argv = ["canary", "judge", "--prometheus", url, "--baseline", 'job="a"', "--canary", 'job="b"']
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert url in err
    assert len(err.strip().splitlines()) == 1


def test_bad_sample_count_is_argparse_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["canary", "judge", "--samples", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err
