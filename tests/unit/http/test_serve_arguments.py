"""``seawall serve`` and ``serve()`` refuse bad settings before anything listens."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import ConfigError
from seawall.cli import main
from seawall.http import serve
from seawall.http._cli import _port, _seconds


async def app(scope: Any, receive: Any, send: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "-1"], "--port must be an integer from 0 to 65535, got '-1'"),
        (["--port", "70000"], "--port must be an integer from 0 to 65535, got '70000'"),
        (["--port", "http"], "--port must be an integer"),
        (["--log-level", "bogus"], "--log-level must be one of critical, error, warning, info"),
        (["--protect", "--max-timeout", "-1"], "--max-timeout must be a finite number"),
        (["--protect", "--max-timeout", "nan"], "--max-timeout must be a finite number"),
        (["--protect", "--max-timeout", "inf"], "--max-timeout must be a finite number"),
        (["--drain-delay", "nan"], "--drain-delay must be a finite number"),
        (["--shutdown-timeout", "-3"], "--shutdown-timeout must be a finite number"),
        (["--max-timeout", "3"], "--max-timeout applies only with --protect"),
        (["--protect", "--idempotency-ttl", "0"], "--idempotency-ttl must be a finite number"),
        (["--protect", "--session-cookies", "a b"], "--session-cookies holds 'a b'"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The app is never imported: flags are checked first.
    code = main(["serve", "no_such_module_anywhere:app", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("seawall serve: ")
    assert message in err


def test_help_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "0 every in-flight request finished" in out
    assert "1 the shutdown cut requests" in out


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"port": -1}, "port"),
        ({"port": 70000}, "port"),
        ({"port": True}, "port"),
        ({"port": "8000"}, "port"),
        ({"log_level": "bogus"}, "log_level"),
        ({"drain_delay": math.nan}, "drain_delay"),
        ({"drain_delay": "1"}, "drain_delay"),
        ({"shutdown_timeout": -1}, "shutdown_timeout"),
        ({"health": object()}, "health"),
    ],
)
def test_serve_refuses_bad_arguments_before_listening(arguments: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        serve(app, **arguments)


def test_serve_refuses_a_non_asgi_app() -> None:
    with pytest.raises(ConfigError, match="app must be an ASGI app"):
        serve(42)  # type: ignore[arg-type]


def test_principal_must_be_a_callable_it_can_import(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "x_missing:app", "--protect", "--principal", "json:__doc__"]) == 2
    assert "--principal json:__doc__ is not callable" in capsys.readouterr().err
    assert main(["serve", "x_missing:app", "--protect", "--principal", "json:nope"]) == 2
    assert "module 'json' has no attribute 'nope'" in capsys.readouterr().err
    # A callable principal is accepted: the command gets as far as importing the app.
    assert main(["serve", "x_missing:app", "--protect", "--principal", "json:dumps"]) == 2
    assert "cannot import 'x_missing'" in capsys.readouterr().err


@given(st.text(max_size=12))
def test_any_port_or_seconds_flag_value_is_a_value_or_a_config_error(text: str) -> None:
    try:
        port = _port(text)
    except ConfigError as exc:
        assert "--port" in str(exc)
    else:
        assert 0 <= port <= 65535
    try:
        seconds = _seconds(text, "--drain-delay")
    except ConfigError as exc:
        assert "--drain-delay" in str(exc)
    else:
        assert seconds is not None
        assert 0 <= seconds < math.inf
