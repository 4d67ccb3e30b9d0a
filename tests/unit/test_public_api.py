"""The public API: explicit, sorted, importable, and nothing private leaks."""

from __future__ import annotations

import logging

import pytest

import seawall


def test_all_is_sorted_unique_and_importable() -> None:
    names = seawall.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(seawall, name), name
    # (pytest's assertion rewriting of the plugin adds "@py_*" names; they are not API)
    public = {n for n in dir(seawall) if not n.startswith(("_", "@"))}
    modules = {
        *("policies", "testing", "wire", "cli", "http", "stores", "chaos", "kube", "sim"),
        *("lease", "gameday", "experiment", "wsgi"),
    }
    assert public - set(names) <= modules


def test_error_tree() -> None:
    assert issubclass(seawall.CircuitOpen, seawall.Rejected)
    assert issubclass(seawall.BulkheadFull, seawall.Rejected)
    assert issubclass(seawall.LoadShed, seawall.Rejected)
    assert issubclass(seawall.Rejected, seawall.SeawallError)
    assert issubclass(seawall.DeadlineExceeded, TimeoutError)
    assert issubclass(seawall.DeadlineExceeded, seawall.SeawallError)
    assert issubclass(seawall.HeaderError, ValueError)


def test_default_hook_logs_to_the_seawall_logger(caplog: pytest.LogCaptureFixture) -> None:
    breaker = seawall.CircuitBreaker("logged", min_calls=1)
    with caplog.at_level(logging.INFO, logger="seawall"):
        with pytest.raises(ConnectionError):
            breaker.call(_down)
    assert any("circuit closed -> open" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def _down() -> None:
    raise ConnectionError


def test_a_failing_hook_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def bad(event: seawall.Event) -> None:
        raise RuntimeError("hook bug")

    remove = seawall.add_hook(bad)
    try:
        breaker = seawall.CircuitBreaker("h", min_calls=1)
        with pytest.raises(ConnectionError):
            breaker.call(_down)
    finally:
        remove()
    assert any("hook" in r.getMessage() for r in caplog.records)
