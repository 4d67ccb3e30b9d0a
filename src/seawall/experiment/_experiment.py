"""Experiments in the Chaos Toolkit shape: the model, and a validating, line-aware parser.

::

    title: payments survive a slow ledger
    description: ...
    configuration: {base: "http://127.0.0.1:8000", port: {type: env, key: PORT, default: 8000}}
    steady-state-hypothesis:
      title: checkout answers
      probes: [{type: probe, name: ok, tolerance: 200, provider: {type: http, url: "${base}/"}}]
    method: [activities...]
    rollbacks: [activities...]

An activity is ``{type: action|probe, name, provider: {type: http|process|python|seawall,
...}, pauses: {before, after}, tolerance, background}`` or ``{ref: NAME}``, reusing an
activity declared earlier. ``${key}`` in any string is replaced from ``configuration``
(or ``--var``); a string that is exactly ``${key}`` takes the value's type; ``$${`` is a
literal ``${``. Every problem - YAML syntax, a missing or mistyped field, an unknown
provider, action or tolerance - is one :class:`ConfigError` naming the file, line and field.
"""

from __future__ import annotations

import json
import os
import re
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, load_text
from seawall.experiment._actions import parse_seawall_action
from seawall.experiment._fields import Field
from seawall.experiment._providers import (
    HttpProvider,
    ProcessProvider,
    Provider,
    PythonProvider,
)
from seawall.experiment._sections import (
    ControlSpec,
    Runtime,
    parse_configuration,
    parse_controls,
    parse_runtime,
    parse_secrets,
)
from seawall.experiment._tolerance import check_tolerance

__all__ = [
    "Activity",
    "Experiment",
    "Hypothesis",
    "load_experiment",
    "parse_experiment",
]

MAX_PAUSE = 3600.0
MAX_FILE_BYTES = 4 * 1024 * 1024
_TOP_KEYS = {
    "title",
    "description",
    "steady-state-hypothesis",
    "method",
    "rollbacks",
    "configuration",
    "secrets",
    "controls",
    "runtime",
    # carried by Chaos Toolkit files for people and tools; nothing to run
    "version",
    "tags",
    "contributions",
    "extensions",
}
_ACTIVITY_KEYS = {
    "type",
    "name",
    "provider",
    "pauses",
    "tolerance",
    "background",
    "ref",
    "controls",
}
_PROVIDERS: dict[str, Callable[[Field], Provider]] = {
    "http": HttpProvider.parse,
    "process": ProcessProvider.parse,
    "python": PythonProvider.parse,
    "seawall": parse_seawall_action,
}
_VARIABLE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_EXACT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


@dataclass(frozen=True)
class Activity:
    """One action or probe, ready to run."""

    type: str
    name: str
    provider: Provider
    provider_type: str
    pause_before: float = 0.0
    pause_after: float = 0.0
    tolerance: Any = None
    background: bool = False
    line: int = 0
    definition: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    controls: tuple[ControlSpec, ...] = ()  # its own, run around it only


@dataclass(frozen=True)
class Hypothesis:
    title: str
    probes: tuple[Activity, ...]
    controls: tuple[ControlSpec, ...] = ()  # its own, run around each check only


@dataclass(frozen=True)
class Experiment:
    """A validated experiment; ``definition`` is the document with variables resolved."""

    title: str
    description: str
    hypothesis: Hypothesis | None
    method: tuple[Activity, ...]
    rollbacks: tuple[Activity, ...]
    source: str
    definition: dict[str, Any] = field(repr=False, compare=False)
    configuration: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    controls: tuple[ControlSpec, ...] = ()
    runtime: Runtime = field(default_factory=Runtime)


def _substitute(node: Field, config: Mapping[str, Any], used: set[str]) -> Any:
    value = node.value
    if isinstance(value, dict):
        return {k: _substitute(node.child(k, v), config, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(node.child(i, v), config, used) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    exact = _EXACT.fullmatch(value)
    if exact:
        name = exact.group(1)
        if name not in config:
            raise node.error(f"unknown configuration key {name!r} in {value!r}")
        used.add(name)
        return config[name]

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if name not in config:
            raise node.error(f"unknown configuration key {name!r} in {value!r}")
        used.add(name)
        return str(config[name])

    return _VARIABLE.sub(replace, value)


class _Parser:
    def __init__(self, root: Field) -> None:
        self.root = root
        self.declared: dict[str, Field] = {}

    def experiment(self) -> Experiment:
        data = self.root.mapping(_TOP_KEYS)
        title = self.root.get("title", required=True).string()
        controls = parse_controls(self.root.get("controls"))
        runtime = parse_runtime(self.root.get("runtime"))
        description = self.root.get("description")
        hypothesis = self.hypothesis(self.root.get("steady-state-hypothesis"))
        method_node = self.root.get("method", required=True)
        method = tuple(self.activity(a, "method") for a in method_node.items())
        if not method:
            raise method_node.error("must hold at least one activity")
        rollbacks_node = self.root.get("rollbacks")
        rollbacks = () if rollbacks_node.missing else rollbacks_node.items()
        return Experiment(
            title=title,
            description="" if description.missing else description.string(),
            hypothesis=hypothesis,
            method=method,
            rollbacks=tuple(self.activity(a, "rollbacks") for a in rollbacks),
            source=self.root.doc.source,
            definition=data,
            controls=controls,
            runtime=runtime,
        )

    def hypothesis(self, node: Field) -> Hypothesis | None:
        if node.missing:
            return None
        node.mapping({"title", "probes", "controls"})
        controls = parse_controls(node.get("controls"))
        title = node.get("title", required=True).string()
        probes_node = node.get("probes")
        probes = [] if probes_node.missing else probes_node.items()
        activities = []
        for probe in probes:
            activity = self.activity(probe, "hypothesis")
            if activity.type != "probe":
                raise probe.get("type").error("a steady-state hypothesis holds probes only")
            if probe.get("tolerance").missing and "ref" not in probe.mapping():
                raise probe.error("a hypothesis probe needs a 'tolerance'")
            activities.append(activity)
        return Hypothesis(title, tuple(activities), controls)

    def activity(self, node: Field, section: str) -> Activity:
        data = node.mapping(_ACTIVITY_KEYS)
        if "ref" in data:
            ref = node.get("ref")
            if set(data) - {"ref", "type"}:
                raise ref.error("a 'ref' activity takes no other field than its 'type'")
            target = self.declared.get(ref.string())
            if target is None:
                raise ref.error(f"no activity named {ref.value!r} was declared before")
            if "type" in data:
                node.get("type").string(choices=(target.get("type").value,))
            node = target
            data = node.mapping()
        kind = node.get("type", required=True).string(choices=("action", "probe"))
        name = node.get("name", required=True).string()
        provider_node = node.get("provider", required=True)
        provider_type = provider_node.get("type", required=True).string(choices=_PROVIDERS)
        provider = _PROVIDERS[provider_type](provider_node)
        pauses = node.get("pauses")
        before = after = 0.0
        if not pauses.missing:
            pauses.mapping({"before", "after"})
            before = pauses.get("before").number(default=0.0, maximum=MAX_PAUSE)
            after = pauses.get("after").number(default=0.0, maximum=MAX_PAUSE)
        tolerance = node.get("tolerance")
        if isinstance(tolerance.value, dict) and tolerance.value.get("type") == "probe":
            PythonProvider.parse(tolerance.get("provider", required=True))
        background = node.get("background")
        if background.boolean(default=False) and section != "method":
            raise background.error("only method activities can run in the background")
        self.declared.setdefault(name, node)
        return Activity(
            type=kind,
            name=name,
            provider=provider,
            provider_type=provider_type,
            pause_before=before,
            pause_after=after,
            tolerance=None if tolerance.missing else check_tolerance(tolerance),
            background=background.boolean(default=False),
            line=node.line,
            definition=data,
            controls=parse_controls(node.get("controls")),
        )


def _document(text: str, source: str) -> Document:
    looks_json = source.endswith(".json") or text.lstrip().startswith("{")
    data: Any = None
    if looks_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise ConfigError(f"{source}: JSON nested too deeply to read") from None
    try:
        documents = load_text(text, source)
    except ConfigError:
        if not looks_json:
            raise
        return Document(source, 0, 1, data, {})  # valid JSON that YAML cannot read (tabs)
    if not documents:
        raise ConfigError(f"{source}:1: the experiment is empty")
    if len(documents) > 1:
        raise ConfigError(f"{source}:{documents[1].start_line}: one experiment per file, please")
    return documents[0]


def parse_experiment(
    text: str,
    source: str = "<experiment>",
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Experiment:
    """Validate an experiment from YAML or JSON text; raises :class:`ConfigError`."""
    try:
        return _parse(text, source, variables or {}, os.environ if environ is None else environ)
    except RecursionError:
        raise ConfigError(f"{source}: the experiment is nested too deeply to read") from None


_SECTIONS = ("configuration", "secrets")


def _parse(
    text: str, source: str, variables: Mapping[str, Any], env: Mapping[str, str]
) -> Experiment:
    document = _document(text, source)
    root = Field.root(document)
    root.mapping()
    config = parse_configuration(root.get("configuration"), variables, env)
    secrets = parse_secrets(root.get("secrets"), env)
    body = {k: v for k, v in root.value.items() if k not in _SECTIONS}
    used: set[str] = set()
    resolved = _substitute(Field(document, (), body), ChainMap(config, *secrets.values()), used)
    declared = root.value.get("configuration") or {}
    unused = sorted(set(variables) - used - set(declared))
    if unused:
        # A mistyped --var would otherwise leave the value it meant to change in place.
        raise ConfigError(
            f"{source}: --var {unused[0]}: the experiment neither declares nor uses "
            f"{unused[0]!r} (configuration keys: {', '.join(sorted(declared)) or 'none'})"
        )
    for key in _SECTIONS:
        if key in root.value:
            resolved[key] = root.value[key]
    experiment = _Parser(
        Field.root(Document(source, 0, document.start_line, resolved, document.lines))
    ).experiment()
    return replace(experiment, configuration=config, secrets=secrets)


def load_experiment(
    path: str | Path,
    *,
    variables: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Experiment:
    """Read and validate the experiment file at ``path``."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{file}: larger than {MAX_FILE_BYTES} bytes; not an experiment")
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    return parse_experiment(text, str(file), variables=variables, environ=environ)
