"""The line-aware reader: lines by path, Kubernetes' YAML rules, and clear refusals."""

from __future__ import annotations

import pytest

from seawall._errors import ConfigError
from seawall._formats._yaml import field_path, load_text


def test_lines_are_recorded_by_path() -> None:
    text = "a: 1\n---\nkind: Pod\nspec:\n  containers:\n    - name: x\n      image: y\n"
    [first, second] = load_text(text, "f.yaml")
    assert first.start_line == 1
    assert second.start_line == 3
    assert second.line_of(("spec", "containers", 0, "image")) == 7
    assert second.line_of(("spec", "containers", 0, "missing", "deeper")) == 6
    assert second.line_of(()) == 3


def test_kubernetes_rules_keys_are_strings_and_timestamps_stay_text() -> None:
    [doc] = load_text("1: one\ntrue: yes\nwhen: 2024-01-02\nn: 0x10\n", "f.yaml")
    assert doc.data == {"1": "one", "true": True, "when": "2024-01-02", "n": 16}


def test_merge_keys_and_aliases() -> None:
    [doc] = load_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert doc.data["use"] == {"x": 1, "y": 3}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "f.yaml:2: duplicate key 'a'"),
        ("a: &x [*x]\n", "f.yaml:1: recursive alias"),
        ("a: [\n", "f.yaml:2: invalid YAML"),
        ("? [a]\n: 1\n", "f.yaml:1: a mapping key must be a plain value"),
        ("a: !!int nope\n", "f.yaml:1: cannot read 'nope'"),
        ("a" + ": [" * 2000 + "\n", "f.yaml"),
    ],
)
def test_unreadable_yaml_is_one_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(text, "f.yaml")
    assert str(info.value).startswith(message)


def test_field_paths_read_like_kubectl_explain() -> None:
    assert field_path(("spec", "containers", 0, "image")) == "spec.containers[0].image"
    assert field_path(()) == ""
