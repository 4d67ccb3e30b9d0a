"""``seawall proxy`` configuration: flags and files validated, exit 2 naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.chaos._cli import parse_toxic_flag
from seawall.chaos._spec import FieldError
from seawall.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_the_configuration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps([{"name": "db", "listen": "127.0.0.1:15432", "upstream": "127.0.0.1:5432"}])
    )
    code, out, err = _run(
        [
            "proxy",
            "--check",
            "--config",
            str(config),
            "--proxy",
            "redis",
            "127.0.0.1:26379",
            "127.0.0.1:6379",
            "--toxic",
            "redis:latency:latency=100,jitter=5,stream=upstream,toxicity=0.5",
            "--toxic",
            "db:reset_peer",
        ],
        capsys,
    )
    assert code == 0, err
    assert (
        "proxy db listening on 127.0.0.1:15432 -> 127.0.0.1:5432 (enabled; toxics: reset_peer_downstream)"
        in out
    )
    assert "toxics: latency_upstream" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "a", "nowhere", "127.0.0.1:1"], "--proxy a: listen:"),
        (["--proxy", "a", "127.0.0.1:0", "h:0"], "--proxy a: upstream:"),
        (["--proxy", "a", "127.0.0.1:0", "h:1", "--proxy", "a", "127.0.0.1:0", "h:2"], "duplicate"),
        (
            ["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a"],
            "--toxic 'a': expected PROXY:TYPE",
        ),
        (["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "b:latency"], "no proxy named 'b'"),
        (["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a:lag"], "type: invalid toxic type"),
        (
            ["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a:latency:latency=fast"],
            "attributes.latency",
        ),
        (["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a:latency:toxicity=x"], "toxicity"),
        (["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a:latency:oops"], "KEY=VALUE"),
        (
            ["--proxy", "a", "127.0.0.1:0", "h:1", "--toxic", "a:latency", "--toxic", "a:latency"],
            "toxics[1].name: duplicate",
        ),
        (["--port", "70000"], "--port 70000"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _run(["proxy", "--check", *args], capsys)
    assert code == 2
    assert message in err


def test_bad_config_file_exits_2_naming_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "proxies.yaml"
    config.write_text(
        "- name: db\n  upstream: 127.0.0.1:5432\n  toxics:\n    - type: latency\n      attributes: {latncy: 5}\n"
    )
    code, _, err = _run(["proxy", "--check", "--strict", "--config", str(config)], capsys)
    assert code == 2
    assert f"{config}: [0].toxics[0].attributes.latncy: unknown field" in err
    code, _, err = _run(["proxy", "--check", "--config", str(tmp_path / "none.json")], capsys)
    assert code == 2
    assert "cannot read" in err


def test_unknown_config_fields_are_ignored_with_a_warning_unless_strict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [
                {
                    "name": "db",
                    "upstream": "127.0.0.1:5432",
                    "tls": {"cert": "x"},
                    "toxics": [{"type": "latency", "attributes": {"latncy": 5}}],
                }
            ]
        )
    )
    code, out, _ = _run(["proxy", "--check", "--config", str(config)], capsys)
    assert code == 0
    assert "proxy db listening on 127.0.0.1:0" in out
    warned = [r.getMessage() for r in caplog.records if r.name == "seawall.chaos"]
    assert any("'tls'" in m and "strict" in m for m in warned), warned
    assert any("'attributes.latncy'" in m for m in warned), warned
    code, _, err = _run(["proxy", "--check", "--strict", "--config", str(config)], capsys)
    assert code == 2
    assert f"{config}: [0].tls: unknown field" in err


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["proxy", "--proxy", "a"], capsys)[0] == 2
    code, out, _ = _run(["proxy", "--help"], capsys)
    assert code == 0
    assert "Toxiproxy" in out


def test_toxic_flag_parsing() -> None:
    proxy, toxic = parse_toxic_flag("redis:bandwidth:rate=100,stream=upstream,name=slow")
    assert proxy == "redis"
    assert toxic.to_json() == {
        "name": "slow",
        "type": "bandwidth",
        "stream": "upstream",
        "toxicity": 1.0,
        "attributes": {"rate": 100},
    }
    with pytest.raises(FieldError):
        parse_toxic_flag(":latency")
