"""Toxics, proxies and config files: Toxiproxy's JSON shapes, validated field by field."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import ConfigError
from seawall.chaos import TOXIC_ATTRIBUTES, ProxyConfig, Toxic, load_config
from seawall.chaos._proxy import same_listen
from seawall.chaos._spec import (
    FieldError,
    MissingField,
    parse_address,
    parse_json,
    proxies_from_json,
)
from seawall.chaos._toxics import slice_sizes


def test_toxic_defaults_follow_toxiproxy() -> None:
    toxic = Toxic.from_json({"type": "latency"})
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 0, "jitter": 0},
    }
    assert Toxic("bandwidth", "upstream").name == "bandwidth_upstream"
    assert (
        Toxic.from_json({"type": "timeout", "name": "", "stream": ""}).name == "timeout_downstream"
    )


@pytest.mark.parametrize("toxic_type", sorted(TOXIC_ATTRIBUTES))
def test_every_type_round_trips_through_json(toxic_type: str) -> None:
    attributes = {a: i + 1 for i, a in enumerate(TOXIC_ATTRIBUTES[toxic_type])}
    toxic = Toxic(toxic_type, "upstream", 0.25, attributes, "mine")
    assert Toxic.from_json(json.loads(json.dumps(toxic.to_json()))) == toxic
    assert hash(toxic) == hash(Toxic.from_json(toxic.to_json()))


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "type", "missing"),
        ({"type": 3}, "type", "must be a string"),
        ({"type": "lag"}, "type", "invalid toxic type"),
        ({"type": "latency", "stream": "up"}, "stream", "upstream"),
        ({"type": "latency", "toxicity": "1"}, "toxicity", "must be a number"),
        ({"type": "latency", "toxicity": -0.1}, "toxicity", "between 0 and 1"),
        ({"type": "latency", "toxicity": None}, "toxicity", "null"),
        ({"type": "latency", "attributes": []}, "attributes", "JSON object"),
        ({"type": "latency", "attributes": {"latency": True}}, "attributes.latency", "integer"),
        ({"type": "latency", "attributes": {"latency": 2**63}}, "attributes.latency", "2^63"),
        ({"type": "latency", "attributes": {"jiter": 1}}, "attributes.jiter", "unknown field"),
        ({"type": "slicer", "attributes": {"delay": 5}}, "attributes.average_size", ">= 1"),
        ({"type": "latency", "name": 5}, "name", "non-empty string"),
        ({"type": "latency", "name": "a\nb"}, "name", "control"),
        ({"type": "latency", "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_toxics_name_the_field(body: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(FieldError) as info:
        Toxic.from_json(body)
    assert info.value.field == field
    assert reason in info.value.reason
    assert isinstance(info.value, ConfigError)


def test_toxic_update_merges_attributes_and_keeps_identity() -> None:
    toxic = Toxic("latency", attributes={"latency": 100, "jitter": 5})
    updated = toxic.updated({"attributes": {"jitter": 9}, "toxicity": 0.5})
    assert updated.attributes == {"latency": 100, "jitter": 9}
    assert updated.toxicity == 0.5
    assert updated.name == toxic.name
    assert toxic.updated(toxic.to_json()) == toxic  # a client sending it all back
    with pytest.raises(FieldError, match="stream: cannot be changed"):
        toxic.updated({"stream": "upstream"})
    with pytest.raises(FieldError, match=r"attributes\.rate"):
        toxic.updated({"attributes": {"rate": 1}})


def test_proxy_config_from_json() -> None:
    config = ProxyConfig.from_json(
        {"name": "redis", "upstream": "127.0.0.1:6379", "toxics": [{"type": "latency"}]}
    )
    assert config.listen == "127.0.0.1:0"
    assert config.enabled
    assert config.toxics == (Toxic("latency"),)
    assert ProxyConfig.from_json(config.to_json()) == config
    assert ProxyConfig.from_json({"name": "a", "upstream": "h:1", "toxics": None}).toxics == ()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upstream": "h:1"}, "name"),
        ({"name": "a"}, "upstream"),
        ({"name": "", "upstream": "h:1"}, "name"),
        ({"name": "a/b", "upstream": "h:1"}, "name"),
        ({"name": "a", "upstream": "h:0"}, "upstream"),
        ({"name": "a", "upstream": ":80"}, "upstream"),
        ({"name": "a", "upstream": "h:1", "listen": "h:70000"}, "listen"),
        ({"name": "a", "upstream": "h:1", "listen": "::1:80"}, "listen"),
        ({"name": "a", "upstream": "h:1", "enabled": 1}, "enabled"),
        ({"name": "a", "upstream": "h:1", "toxics": {}}, "toxics"),
        ({"name": "a", "upstream": "h:1", "toxics": [{"type": "x"}]}, "toxics[0].type"),
        (
            {"name": "a", "upstream": "h:1", "toxics": [{"type": "latency"}, {"type": "latency"}]},
            "toxics[1].name",
        ),
    ],
)
def test_bad_proxies_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as info:
        ProxyConfig.from_json(body)
    assert info.value.field == field


def test_addresses() -> None:
    assert parse_address("127.0.0.1:80", "x", listen=False) == ("127.0.0.1", 80)
    assert parse_address("[::1]:0", "x", listen=True) == ("::1", 0)
    assert parse_address(":8080", "x", listen=True) == ("", 8080)
    for bad in ["", "host", "h:", "h:-1", "h:+1", "h: 1", "h:1x", "a b:1", "h:０"]:
        with pytest.raises(FieldError):
            parse_address(bad, "x", listen=True)


def test_proxy_lists_locate_errors_by_index() -> None:
    assert [p.name for p in proxies_from_json({"proxies": [{"name": "a", "upstream": "h:1"}]})] == [
        "a"
    ]
    with pytest.raises(FieldError) as info:
        proxies_from_json([{"name": "a", "upstream": "h:1"}, {"name": "a", "upstream": "h:2"}])
    assert info.value.field == "[1].name"
    with pytest.raises(FieldError) as info:
        proxies_from_json(
            [
                {
                    "name": "a",
                    "upstream": "h:1",
                    "toxics": [{"type": "latency", "attributes": {"latency": -5}}],
                }
            ]
        )
    assert str(info.value).startswith("[0].toxics[0].attributes.latency:")


def test_strict_json() -> None:
    assert parse_json(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    for bad in [b"NaN", b"[Infinity]", b"{", b"[" * 50_000, b"1" * 5000, b"\xff"]:
        with pytest.raises(FieldError, match="invalid JSON"):
            parse_json(bad)


def test_load_config_json_and_yaml(tmp_path: Path) -> None:
    proxies = [{"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}]
    (tmp_path / "p.json").write_text(json.dumps(proxies))
    (tmp_path / "p.yaml").write_text(
        "- name: redis\n  listen: 127.0.0.1:26379\n  upstream: 127.0.0.1:6379\n"
        "  toxics:\n    - {type: latency, attributes: {latency: 100}}\n"
    )
    assert load_config(tmp_path / "p.json") == [
        ProxyConfig(name="redis", listen="127.0.0.1:26379", upstream="127.0.0.1:6379")
    ]
    [from_yaml] = load_config(tmp_path / "p.yaml")
    assert from_yaml.toxics[0]["latency"] == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{]", "invalid JSON"),
        ('{"name": "x"}', "expected a list of proxies"),
        ('[{"name": "x", "upstream": "h:1", "listen": 5}]', "[0].listen: must be"),
        (
            '[{"name": "x", "upstream": "h:1", "toxics": [{"type": "latency", "attributes": {"latency": "1"}}]}]',
            "[0].toxics[0].attributes.latency: must be an integer",
        ),
    ],
)
def test_config_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "proxies.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_config_errors_for_files_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


@given(
    total=st.integers(min_value=0, max_value=100_000),
    average=st.integers(min_value=1, max_value=5000),
    variation=st.integers(min_value=0, max_value=6000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_slicer_sizes_sum_and_stay_in_bounds(
    total: int, average: int, variation: int, seed: int
) -> None:
    sizes = slice_sizes(total, average, variation, random.Random(seed))
    assert sum(sizes) == total
    assert all(s >= 1 for s in sizes)
    low, high = max(1, average - variation), average + variation
    assert all(low <= s <= high for s in sizes[:-1])
    assert not sizes or sizes[-1] <= high


def test_slicer_sizes_without_variation_are_exact() -> None:
    assert slice_sizes(1000, 300, 0, random.Random(0)) == [300, 300, 300, 100]
    assert slice_sizes(0, 10, 5, random.Random(0)) == []


def test_unknown_fields_are_dropped_with_a_warning_unless_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"type": "latency", "attributes": {"latency": 5, "latncy": 9}, "enabled": True}
    toxic = Toxic.from_json(body, strict=False)
    assert dict(toxic.attributes) == {"latency": 5, "jitter": 0}
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "'attributes.latncy'" in warned
    assert "'enabled'" in warned
    with pytest.raises(FieldError, match="enabled: unknown field"):
        Toxic.from_json(body)
    proxy = {"name": "p", "upstream": "h:1", "tls": {}, "toxics": [body]}
    assert ProxyConfig.from_json(proxy, strict=False).toxics == (toxic,)
    with pytest.raises(FieldError, match="tls: unknown field"):
        ProxyConfig.from_json(proxy)
    updated = toxic.updated({"attributes": {"jitter": 2, "nope": 1}, "x": 1}, strict=False)
    assert dict(updated.attributes) == {"latency": 5, "jitter": 2}
    with pytest.raises(FieldError, match=r"attributes\.nope: unknown field"):
        toxic.updated({"attributes": {"nope": 1}})


def test_missing_fields_are_worded_as_toxiproxy_words_them() -> None:
    for body, text in [
        ({"name": "", "upstream": ""}, "missing required field: name"),
        ({"upstream": "h:1", "name": None}, "missing required field: name"),
        ({"name": "test", "upstream": ""}, "missing required field: upstream"),
    ]:
        with pytest.raises(MissingField) as raised:
            ProxyConfig.from_json(body)
        assert str(raised.value) == text
    with pytest.raises(MissingField) as raised:
        proxies_from_json([{"name": "a", "upstream": "h:1"}, {"name": "", "listen": ""}])
    assert str(raised.value) == "missing required field: name at proxy 2"
    assert (raised.value.field, raised.value.reason) == ("[1].name", "missing required field")


def test_noop_toxic_has_no_attributes() -> None:
    assert Toxic.from_json({"type": "noop", "stream": ""}).to_json() == {
        "name": "noop_downstream",
        "type": "noop",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {},
    }
    with pytest.raises(FieldError, match=r"attributes\.x: unknown field"):
        Toxic("noop", attributes={"x": 1})


def test_listen_addresses_compare_after_resolving() -> None:
    assert same_listen("127.0.0.1:7070", "localhost:7070")
    assert same_listen("127.0.0.1:7070", "127.0.0.1:7070")
    assert not same_listen("127.0.0.1:7070", "localhost:7071")
    assert not same_listen("127.0.0.1:7070", "127.0.0.1:0")  # port 0 asks for a new port
    assert not same_listen("127.0.0.1:7070", "nonsense")


@given(
    st.dictionaries(
        st.sampled_from(["name", "type", "stream", "toxicity", "attributes", "x", "enabled"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=7,
    )
)
def test_lenient_toxic_parsing_fails_only_with_field_errors(body: dict[str, Any]) -> None:
    try:
        toxic = Toxic.from_json(body, strict=False)
    except FieldError:
        return
    assert Toxic.from_json(toxic.to_json()) == toxic
