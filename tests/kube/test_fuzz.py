"""Generated, mangled and truncated YAML never crashes the linter: either a result, or
exit 2 with a message that names the input."""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawall._errors import ConfigError
from seawall.cli import main
from seawall.kube import generate, lint_text, spec_from_text, to_yaml
from tests.kube.conftest import CHECKS, GOOD, SHOP

CORPUS = [
    p.read_text() for p in [GOOD, *sorted(SHOP.glob("*.yaml")), *sorted(CHECKS.glob("*.yaml"))[:8]]
]
BASE = list(yaml.safe_load_all(GOOD.read_text()))

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
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


PATHS = [
    (i, p)
    for i, doc in enumerate(BASE)
    for p in _paths(doc)
    if p[:1] not in {(), ("kind",), ("apiVersion",)}
]


def _lint_or_config_error(text: str) -> None:
    try:
        result = lint_text(text, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml")
    else:
        assert result.exit_code in (0, 1)


def _cli(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["kube", "lint", "--format", "json", str(path)])
    assert code in (0, 1, 2)
    if code == 2:
        assert err.getvalue().startswith(f"seawall: {path}")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_crashes(text: str) -> None:
    _lint_or_config_error(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CORPUS), st.data())
def test_truncated_manifests_never_crash(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    _lint_or_config_error(text[:cut])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), junk)
def test_wrong_types_anywhere_in_an_object_never_crash_a_check(
    where: tuple[int, tuple[Any, ...]], value: Any
) -> None:
    docs = copy.deepcopy(BASE)
    index, path = where
    target: Any = docs[index]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    result = lint_text(yaml.safe_dump_all(docs), "fuzz.yaml")  # valid YAML: never exit 2
    assert result.exit_code in (0, 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.data())
def test_the_cli_exits_2_with_a_message_on_mangled_input(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.text(max_size=5))
    with tempfile.TemporaryDirectory() as tmp:
        _cli(Path(tmp) / "in.yaml", text[:cut] + noise)


def test_known_unreadable_inputs_exit_2_naming_file_and_line(tmp_path: Path) -> None:
    cases = {
        "truncated.yaml": GOOD.read_text().partition("readinessProbe:")[0]
        + 'readinessProbe: "unterminated',
        "tabs.yaml": "apiVersion: v1\nkind: Pod\n\tmetadata: {}\n",
        "recursive.yaml": "apiVersion: v1\nkind: List\nitems: &a [*a]\n",
        "duplicate.yaml": "apiVersion: v1\nkind: Pod\nkind: Service\n",
        "scalar.yaml": "just a string\n",
        "nokind.yaml": "apiVersion: v1\nmetadata: {name: x}\n",
        "binary.yaml": "",
    }
    for name, text in cases.items():
        path = tmp_path / name
        if name == "binary.yaml":
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(text)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["kube", "lint", str(path)]) == 2, name
        message = err.getvalue()
        assert message.startswith(f"seawall: {path}"), message
        assert message.count("\n") == 1  # one line, no traceback
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["kube", "lint", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in err.getvalue()


def test_an_alias_bomb_is_refused_not_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "apiVersion: v1\nkind: ConfigMap\n" + "\n".join(lines) + "\n"
    try:
        lint_text(text, "bomb.yaml")
    except ConfigError as exc:
        assert "too many values" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an alias bomb was expanded")


API_PARTS = st.sampled_from(
    ["", "v1", "apps", "apps/v1", "apps/v2", "x.io/v1", "/", "a/b/c", "extensions/v1beta1"]
) | st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    API_PARTS, st.sampled_from(["Deployment", "Pod", "Deploymnet", "Foo"]) | st.text(max_size=12)
)
def test_any_api_version_and_kind_is_linted_or_refused(api_version: str, kind: str) -> None:
    docs = copy.deepcopy(BASE)
    docs[0]["apiVersion"], docs[0]["kind"] = api_version, kind
    _lint_or_config_error(yaml.safe_dump_all(docs))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["app", "run_as_user"]), junk)
def test_any_app_or_uid_in_a_spec_is_accepted_or_refused(key: str, value: Any) -> None:
    text = yaml.safe_dump({"name": "web", "image": "ghcr.io/x/web:1.0.0", key: value})
    try:
        spec = spec_from_text(text, "spec.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("spec.yaml")
    else:
        assert lint_text(to_yaml(generate(spec))).findings == ()


objective = st.one_of(
    junk,
    st.floats(),
    st.decimals(allow_nan=True).map(str),
    st.sampled_from([99.9, 99, "99.95", 50, 100, 0]),
)
slo_section = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "availability": objective,
            "latency": st.one_of(
                junk,
                st.fixed_dictionaries(
                    {
                        "objective": objective,
                        "threshold": st.one_of(junk, st.sampled_from([0.25, 1])),
                    }
                ),
            ),
            "job": st.one_of(junk, st.just("checkout")),
        },
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["slo", "canary"]), slo_section)
def test_any_slo_or_canary_section_is_accepted_or_refused(key: str, value: Any) -> None:
    text = yaml.safe_dump({"name": "web", "image": "ghcr.io/x/web:1.0.0", key: value})
    try:
        spec = spec_from_text(text, "spec.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("spec.yaml")
    else:
        assert lint_text(to_yaml(generate(spec))).findings == ()
