"""Steady-state tolerances, with Chaos Toolkit's rules.

A probe's output is *within tolerance* when:

* ``true``/``false`` or a string: the output equals it;
* a number: the output equals it - or, when the output is a mapping with a ``status``
  (an ``http`` probe's output, a ``process`` probe's exit code), that status does;
* a list: with a ``status`` output, the status is one of the items; otherwise a pair of
  numbers ``[low, high]`` is an inclusive range, and any other list a set of allowed values;
* ``{"type": "regex", "pattern": P, "target": K}``: ``re.search(P, output[K] or output)``;
  an http or process output is searched in its ``status`` when no target is given, and a
  mapping target (``headers``) as ``name: value`` lines;
* ``{"type": "jsonpath", "path": P, "expect": V, "count": N, "target": K}``: the values the
  path matches (in a JSON text output, parsed first) equal ``[V]`` (or ``V`` when a list);
  without ``expect``, there is at least one match (exactly ``count`` when given);
* ``{"type": "range", "range": [low, high], "target": K}``: a number within the range;
* ``{"type": "probe", "provider": {"type": "python", "module", "func", "arguments"}}``:
  the function, called with the output as its ``value`` argument, returns a true value.

JSONPath is Chaos Toolkit's dialect (the ``jsonpath2`` library that chaoslib uses), so a
path such as ``$.foo.*[?(@.baz)].baz`` finds what ``chaos run`` finds. Where chaoslib
answers a surprising output wrongly or crashes, seawall answers with the reason instead
(``docs/experiments.md`` lists each case): a float tolerance compares by value (chaoslib
has no rule for floats and never matches), a two-item list of non-numbers is a set of
allowed values as the specification says (chaoslib compares it as a range), and ``true``
or ``false`` match booleans only (chaoslib accepts ``1`` for ``true``), and a regex
searches the targets the tolerance page documents (a status by default, ``headers``),
which chaoslib cannot search.

:func:`within_tolerance` never raises on a surprising output: it answers "not met" with a
reason, so a probe that returns garbage fails the hypothesis instead of the runner.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import warnings
from typing import Any

from seawall.experiment._fields import Field
from seawall.experiment._providers import call_python

__all__ = ["check_tolerance", "within_tolerance"]

_REGEX_KEYS = {"type", "pattern", "target"}
_JSONPATH_KEYS = {"type", "path", "expect", "count", "target"}
_RANGE_KEYS = {"type", "range", "target"}
_PROBE_KEYS = {"type", "name", "provider"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.lru_cache(maxsize=256)
def _parse_jsonpath(path: str) -> Any:
    # the chaos extra; imported when a path is used
    from jsonpath2.path import Path as JSONPath

    with warnings.catch_warnings():  # the parser's own notices are not the user's problem
        warnings.simplefilter("ignore")
        return JSONPath.parse_str(path.strip())


def _check_range(field: Field, bounds: list[Any]) -> None:
    if len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        raise field.error("a range must be two numbers [low, high]")
    if bounds[0] > bounds[1]:
        raise field.error(f"range low {bounds[0]!r} is above high {bounds[1]!r}")


def check_tolerance(field: Field) -> Any:
    """Validate the tolerance at ``field``; returns it unchanged."""
    value = field.value
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        if not value:
            raise field.error("an empty list allows no value")
        if len(value) == 2 and all(_is_number(b) for b in value):
            _check_range(field, value)
        return value
    if not isinstance(value, dict):
        raise field.error(
            "must be a value, a [low, high] range, a list of values, "
            "or a mapping with type regex, jsonpath or range"
        )
    kind = field.get("type", required=True).string()
    if kind == "regex":
        field.mapping(_REGEX_KEYS)
        pattern = field.get("pattern", required=True)
        try:
            re.compile(pattern.string())
        except re.error as exc:
            raise pattern.error(f"invalid regular expression: {exc}") from None
    elif kind == "jsonpath":
        field.mapping(_JSONPATH_KEYS)
        path = field.get("path", required=True)
        try:
            _parse_jsonpath(path.string())
        except ModuleNotFoundError:
            raise
        except Exception as exc:  # jsonpath-ng raises several unrelated types
            raise path.error(f"invalid JSONPath: {exc}") from None
        field.get("count").integer(default=0)
    elif kind == "range":
        field.mapping(_RANGE_KEYS)
        bounds = field.get("range", required=True)
        bounds.items()
        _check_range(bounds, bounds.value)
    elif kind == "probe":
        field.mapping(_PROBE_KEYS)
        provider = field.get("provider", required=True)
        provider.mapping()
        provider.get("type", required=True).string(choices=("python",))
        return value
    else:
        raise field.child("type", kind).error(
            f"unknown tolerance type {kind!r} (regex, jsonpath, range or probe)"
        )
    target = field.get("target")
    if not target.missing:
        target.string()
    return value


def _targeted(tolerance: dict[str, Any], value: Any) -> Any:
    target = tolerance.get("target")
    if target is not None and isinstance(value, dict):
        return value.get(target, value)
    return value


def _regex_text(tolerance: dict[str, Any], value: Any) -> str | None:
    """The text a regex tolerance searches, or ``None`` when the output has none.

    An http or process output (a mapping with a ``status``) is searched in its status
    unless a ``target`` says otherwise, as Chaos Toolkit documents; a status is searched
    as its digits, and a mapping target such as ``headers`` as ``name: value`` lines, the
    way the headers arrive on the wire.
    """
    target = tolerance.get("target")
    if target is None and isinstance(value, dict) and "status" in value:
        target = "status"
    text = value.get(target, value) if target is not None and isinstance(value, dict) else value
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    if isinstance(text, str):
        return text
    if target is None:
        return None
    if _is_number(text):
        return str(text)
    if isinstance(text, dict) and text is not value:
        return "\n".join(f"{name}: {field}" for name, field in text.items())
    return None


def _in_range(low: Any, high: Any, value: Any) -> tuple[bool, str]:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False, f"{value!r} is not a number"
    if not _is_number(value):
        return False, f"{value!r} is not a number"
    met = low <= value <= high
    return met, f"{value!r} is {'within' if met else 'outside'} [{low!r}, {high!r}]"


def _jsonpath(tolerance: dict[str, Any], value: Any) -> tuple[bool, str]:
    value = _targeted(tolerance, value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    found = [m.current_value for m in _parse_jsonpath(tolerance["path"]).match(value)]
    if "expect" in tolerance:
        expect = tolerance["expect"]
        wanted = expect if isinstance(expect, list) else [expect]
        return found == wanted, f"{tolerance['path']} found {found!r}, expected {wanted!r}"
    if "count" in tolerance:
        met = len(found) == tolerance["count"]
        return met, f"{tolerance['path']} matched {len(found)}, expected {tolerance['count']}"
    return bool(found), f"{tolerance['path']} matched {len(found)} value(s)"


def _probe(
    tolerance: dict[str, Any],
    value: Any,
    configuration: dict[str, Any] | None,
    secrets: dict[str, dict[str, Any]] | None,
) -> tuple[bool, str]:
    provider = tolerance["provider"]
    arguments = dict(provider.get("arguments") or {})
    arguments["value"] = value
    name = f"{provider['module']}.{provider['func']}"
    try:
        answer = call_python(
            provider["module"],
            provider["func"],
            arguments,
            configuration=configuration or {},
            secrets=secrets or {},
            scopes=(),
        )
    except Exception as exc:  # the tolerance probe failed: the output is not vouched for
        return False, f"tolerance probe {name} failed: {exc}"
    return bool(answer), f"tolerance probe {name} returned {answer!r}"


def within_tolerance(
    tolerance: Any,
    value: Any,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, dict[str, Any]] | None = None,
) -> tuple[bool, str]:
    """Whether ``value`` (a probe's output) is within ``tolerance``, and why.

    ``configuration`` and ``secrets`` reach a ``probe`` tolerance's function when it
    declares them, as they reach any Python provider.
    """
    status = value.get("status") if isinstance(value, dict) else None
    if isinstance(tolerance, bool):
        met = isinstance(value, bool) and value == tolerance
        return met, f"{value!r} {'is' if met else 'is not'} {tolerance!r}"
    if _is_number(tolerance):
        got = status if status is not None else value
        met = _is_number(got) and got == tolerance
        return met, f"{'status ' if status is not None else ''}{got!r} vs expected {tolerance!r}"
    if isinstance(tolerance, str):
        met = value == tolerance
        return met, f"{value!r} {'equals' if met else 'differs from'} {tolerance!r}"
    if isinstance(tolerance, list):
        if status is not None:
            met = status in tolerance
            return met, f"status {status!r} {'in' if met else 'not in'} {tolerance!r}"
        if len(tolerance) == 2 and all(_is_number(b) for b in tolerance):
            return _in_range(tolerance[0], tolerance[1], value)
        met = value in tolerance
        return met, f"{value!r} {'in' if met else 'not in'} {tolerance!r}"
    if isinstance(tolerance, dict):
        kind = tolerance.get("type")
        try:
            if kind == "regex":
                text = _regex_text(tolerance, value)
                if text is None:
                    return False, f"regex needs text, got {type(value).__name__}"
                met = re.search(tolerance["pattern"], text) is not None
                return met, f"/{tolerance['pattern']}/ {'matched' if met else 'did not match'}"
            if kind == "jsonpath":
                return _jsonpath(tolerance, value)
            if kind == "range":
                low, high = tolerance["range"]
                return _in_range(low, high, _targeted(tolerance, value))
            if kind == "probe":
                return _probe(tolerance, value, configuration, secrets)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            return False, f"tolerance could not be checked: {exc}"
    return False, f"unsupported tolerance {tolerance!r}"
