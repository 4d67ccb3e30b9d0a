"""Generated, mangled and truncated experiments never crash the parser: either an
experiment, or one ConfigError whose message names the source."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall._errors import ConfigError
from seawall.experiment import parse_experiment
from tests.unit.experiment.test_experiment import EXAMPLES, GOOD

CORPUS = [GOOD, *(p.read_text() for p in sorted(EXAMPLES.glob("*.*")))]
BASE = [yaml.safe_load(text) for text in CORPUS]

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["${base}", "${nope}", "$${x}", "http://127.0.0.1:1", "seawall", "probe"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


PATHS = [(i, p) for i, doc in enumerate(BASE) for p in _paths(doc) if p]


def _parse(text: str, source: str) -> None:
    try:
        parse_experiment(text, source, environ={})
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(source), message
        assert message.strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), junk, st.booleans())
def test_replacing_any_field_with_junk_gives_an_experiment_or_a_config_error(
    target: tuple[int, tuple[Any, ...]], value: Any, as_json: bool
) -> None:
    index, path = target
    doc = copy.deepcopy(BASE[index])
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    if as_json:
        _parse(json.dumps(doc, allow_nan=True), "fuzz.json")
    else:
        _parse(yaml.safe_dump(doc), "fuzz.yaml")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CORPUS), st.integers(0, 4000), st.integers(0, 4000), st.text(max_size=6))
def test_truncated_or_spliced_text_gives_an_experiment_or_a_config_error(
    text: str, cut: int, at: int, insert: str
) -> None:
    _parse(text[:cut], "cut.yaml")
    _parse(text[:at] + insert + text[at:], "splice.yaml")
    _parse(text[:at] + insert + text[at:], "splice.json")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_an_experiment_or_a_config_error(text: str) -> None:
    _parse(text, "any.yaml")


SECTION_WORDS = st.sampled_from(
    ["env", "vault", "python", "strategy", "default", "deviated", "continuously", "key"]
)
section_junk = st.recursive(
    junk | SECTION_WORDS,
    lambda inner: (
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "key",
                    "default",
                    "name",
                    "provider",
                    "module",
                    "arguments",
                    "strategy",
                    "rollbacks",
                    "hypothesis",
                    "frequency",
                    "fail_fast",
                    "scope",
                    "s",
                ]
            ),
            inner,
            max_size=4,
        )
        | st.lists(inner, max_size=2)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["secrets", "controls", "runtime"]), section_junk)
def test_any_secrets_controls_or_runtime_section_gives_an_experiment_or_a_config_error(
    section: str, value: Any
) -> None:
    doc = copy.deepcopy(BASE[0])
    doc[section] = value
    _parse(json.dumps(doc, allow_nan=True), "sections.json")
