"""A malformed experiment is one ConfigError that names the file, the line and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seawall._errors import ConfigError
from seawall.experiment import load_experiment, parse_experiment

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "experiments"

GOOD = """\
title: shop survives
description: a test
configuration:
  base: "http://127.0.0.1:9"
  port: {type: env, key: SEAWALL_TEST_PORT, default: 8000, env_var_type: int}
steady-state-hypothesis:
  title: healthy
  probes:
    - type: probe
      name: healthy
      tolerance: true
      provider: {type: python, module: tests.unit.experiment.probes, func: health}
method:
  - type: action
    name: break
    provider: {type: python, module: tests.unit.experiment.probes, func: break_it}
    pauses: {before: 1.5, after: 2}
  - type: probe
    name: page
    provider: {type: http, url: "${base}/x?port=${port}", timeout: 0.5}
  - ref: healthy
rollbacks:
  - type: action
    name: mend
    provider: {type: python, module: tests.unit.experiment.probes, func: mend}
"""


def error_of(text: str, source: str = "exp.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, source, environ={})
    return str(info.value)


def test_a_good_experiment_parses_with_variables_resolved() -> None:
    exp = parse_experiment(GOOD, "exp.yaml", environ={"SEAWALL_TEST_PORT": "9001"})
    assert exp.title == "shop survives"
    assert exp.hypothesis is not None
    assert [p.name for p in exp.hypothesis.probes] == ["healthy"]
    assert [a.name for a in exp.method] == ["break", "page", "healthy"]
    assert exp.method[0].pause_before == 1.5
    assert exp.method[0].pause_after == 2.0
    assert exp.method[1].provider.describe() == "GET http://127.0.0.1:9/x?port=9001"
    assert exp.method[2].provider_type == "python"  # the ref resolved to the probe
    assert exp.method[0].line == 14
    assert [a.name for a in exp.rollbacks] == ["mend"]


def test_variables_override_configuration_and_keep_their_type() -> None:
    text = GOOD.replace("timeout: 0.5", "timeout: '${t}'").replace("base:", "t: 0.5\n  base:")
    exp = parse_experiment(text, "exp.yaml", variables={"t": 0.25}, environ={})
    assert exp.method[1].provider.timeout == 0.25  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.*")), ids=lambda p: p.name)
def test_the_examples_are_valid(path: Path) -> None:
    exp = load_experiment(path, environ={})
    assert exp.method
    assert exp.rollbacks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: [unclosed\nmethod: []\n", r"exp.yaml:\d: invalid YAML"),
        (
            "description: no title\nmethod: []\n",
            r"exp.yaml:1: \(document\): missing required field 'title'",
        ),
        ("title: x\n", r"exp.yaml:1: \(document\): missing required field 'method'"),
        ("title: x\nmethod: {}\n", r"exp.yaml:2: method: must be a list, not a mapping"),
        ("title: x\nmethod: []\n", r"exp.yaml:2: method: must hold at least one activity"),
        ("- just\n- a list\n", r"exp.yaml:1: \(document\): must be a mapping"),
        ("title: 7\nmethod: []\n", r"exp.yaml:1: title: must be a string, not an integer"),
        (
            "title: x\nsteady-state-hypothesys: {}\nmethod: []\n",
            r"exp.yaml:2: steady-state-hypothesys: unknown field \(did you mean 'steady-state-hypothesis'\?\)",
        ),
        (
            "title: x\ncontrols: [{name: c, provider: {type: http}}]\nmethod: [{ref: a}]\n",
            r"exp.yaml:2: controls\[0\]\.provider\.type: must be one of",
        ),
        ("title: x\ntitle: y\nmethod: []\n", r"exp.yaml:2: duplicate key 'title'"),
    ],
)
def test_document_errors_name_line_and_field(text: str, expected: str) -> None:
    assert re.search(expected, error_of(text)), error_of(text)


ACTIVITY_ERRORS = [
    # (activity YAML, line of the problem within the file, field, message part)
    (
        "{type: action, name: a, provider: {type: shell, cmd: ls}}",
        "method[0].provider.type",
        "must be one of",
    ),
    ("{type: action, name: a}", "method[0]", "missing required field 'provider'"),
    (
        "{type: act, name: a, provider: {type: python, module: m, func: f}}",
        "method[0].type",
        "must be one of ['action', 'probe']",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: nuke-it}}",
        "method[0].provider.action",
        "must be one of",
    ),
    (
        "{type: action, name: a, provider: {type: http, url: ftp://x}}",
        "method[0].provider.url",
        "must be an http://",
    ),
    (
        "{type: action, name: a, provider: {type: http, url: 'http://x', timeout: -1}}",
        "method[0].provider.timeout",
        "must be at least",
    ),
    (
        "{type: action, name: a, provider: {type: http, url: 'http://x', timeout: '5'}}",
        "method[0].provider.timeout",
        "must be a number, not a string",
    ),
    (
        "{type: action, name: a, provider: {type: http, url: 'http://x', arguements: {}}}",
        "method[0].provider.arguements",
        "did you mean 'arguments'",
    ),
    (
        "{type: action, name: a, provider: {type: python, module: m}}",
        "method[0].provider",
        "missing required field 'func'",
    ),
    (
        "{type: action, name: a, pauses: {before: 99999}, provider: {type: python, module: m, func: f}}",
        "method[0].pauses.before",
        "at most 3600",
    ),
    (
        "{type: probe, name: a, tolerance: {type: regex, pattern: '('}, provider: {type: python, module: m, func: f}}",
        "method[0].tolerance.pattern",
        "invalid regular expression",
    ),
    (
        "{type: probe, name: a, tolerance: {type: jsonpath, path: '$[[['}, provider: {type: python, module: m, func: f}}",
        "method[0].tolerance.path",
        "invalid JSONPath",
    ),
    (
        "{type: probe, name: a, tolerance: {type: magic}, provider: {type: python, module: m, func: f}}",
        "method[0].tolerance.type",
        "unknown tolerance type",
    ),
    (
        "{type: probe, name: a, tolerance: [10, 1], provider: {type: python, module: m, func: f}}",
        "method[0].tolerance",
        "range low 10 is above high 1",
    ),
    (
        "{type: probe, name: a, tolerance: null, provider: {type: python, module: m, func: f}}",
        "method[0].tolerance",
        "must be a value",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: proxy-toxic, proxy: db, toxic: {type: latenzy}}}",
        "method[0].provider.toxic.type",
        "must be one of",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: fill-disk, directory: /tmp, bytes: 99999999999999}}",
        "method[0].provider.bytes",
        "at most",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: fill-disk, directory: /tmp}}",
        "method[0].provider",
        "missing required field 'bytes'",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: fill-disk, directory: /tmp, file: ../etc/passwd, bytes: 1}}",
        "method[0].provider.file",
        "plain file name",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: cpu-burn, workers: 1000, seconds: 1}}",
        "method[0].provider.workers",
        "at most 64",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: cpu-burn, seconds: 3601}}",
        "method[0].provider.seconds",
        "at most 600",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: generate-load, url: 'http://x', rate: 1e9, duration: 1}}",
        "method[0].provider.rate",
        "must be",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: kill-process}}",
        "method[0].provider",
        "exactly one of 'name'",
    ),
    (
        "{type: action, name: a, provider: {type: seawall, action: start-process, name: s, command: [x], wait_for: {}}}",
        "method[0].provider.wait_for",
        "exactly one of 'url' or 'port'",
    ),
    (
        "{type: action, name: a, provider: {type: python, module: m, func: f, url: '${nope}'}}",
        "method[0].provider.url",
        "unknown configuration key 'nope'",
    ),
    ("{ref: nothing-declared}", "method[0].ref", "no activity named 'nothing-declared'"),
    (
        "{type: action, name: a, provider: {type: python, module: m, func: f}, background: yes-please}",
        "method[0].background",
        "must be true or false",
    ),
]


@pytest.mark.parametrize(("activity", "field", "message"), ACTIVITY_ERRORS)
def test_activity_errors_name_line_and_field(activity: str, field: str, message: str) -> None:
    text = f"title: x\nmethod:\n  - {activity}\n"
    error = error_of(text)
    assert error.startswith(f"exp.yaml:3: {field}: "), error
    assert message in error


def test_a_hypothesis_probe_needs_a_tolerance_and_must_be_a_probe() -> None:
    probe = "{type: probe, name: p, provider: {type: python, module: m, func: f}}"
    text = f"title: x\nsteady-state-hypothesis:\n  title: t\n  probes:\n    - {probe}\nmethod:\n  - {probe}\n"
    assert error_of(text).startswith("exp.yaml:5: steady-state-hypothesis.probes[0]: ")
    action = probe.replace("probe,", "action,", 1)
    text = text.replace(f"    - {probe}", f"    - {action}")
    assert "holds probes only" in error_of(text)


def test_background_only_in_the_method() -> None:
    text = (
        "title: x\nmethod:\n  - {type: action, name: a, provider: {type: python, module: m, func: f}}\n"
        "rollbacks:\n  - {type: action, name: b, background: true, provider: {type: python, module: m, func: f}}\n"
    )
    assert error_of(text).startswith("exp.yaml:5: rollbacks[0].background: only method")


def test_a_missing_environment_variable_without_default_is_named() -> None:
    text = "title: x\nconfiguration:\n  token: {type: env, key: SEAWALL_NOPE}\nmethod: []\n"
    assert error_of(text).startswith(
        "exp.yaml:3: configuration.token: environment variable SEAWALL_NOPE"
    )


def test_json_errors_name_the_line() -> None:
    assert error_of('{\n  "title": "x",\n  "method": [\n}\n', "exp.json").startswith(
        "exp.json:4: invalid JSON"
    )
    text = '{\n  "title": "x",\n  "method": [\n    {"type": "action", "name": 3}\n  ]\n}\n'
    assert error_of(text, "exp.json").startswith("exp.json:4: method[0].name: must be a string")


def test_json_with_tabs_still_reads() -> None:
    text = '{\n\t"title": "x",\n\t"method": [{"type": "action", "name": "a", "provider": {"type": "python", "module": "m", "func": "f"}}]\n}\n'
    assert parse_experiment(text, "exp.json").title == "x"


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00title")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_experiment(binary)
    with pytest.raises(ConfigError, match="one experiment per file"):
        parse_experiment("title: a\n---\ntitle: b\n", "two.yaml")
    with pytest.raises(ConfigError, match="empty"):
        parse_experiment("# nothing\n", "empty.yaml")
