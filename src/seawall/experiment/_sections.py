"""The experiment-wide sections: ``configuration``, ``secrets``, ``controls``, ``runtime``.

They follow Chaos Toolkit's meaning, because extension drivers and real experiment files
depend on it:

* ``configuration`` values (or ``{type: env, key, default, env_var_type}``) fill
  ``${name}`` and are passed to Python functions that declare a ``configuration``
  parameter - that is how a driver finds its server (``toxiproxy_url``, a kube context);
* ``secrets`` are scoped mappings (``{scope: {key: value | {type: env, key}}}``); they
  fill ``${name}`` too, and a Python provider that lists scopes in its ``secrets`` gets
  them merged into its ``secrets`` parameter. A secret comes from the file or the
  environment: a vault reference is refused at validation, so a run never goes ahead
  without a credential it was promised;
* ``controls`` name Python modules whose hook functions run around the experiment, the
  hypothesis, the method, the rollbacks and each activity;
* ``runtime.rollbacks.strategy`` and ``runtime.hypothesis.strategy`` choose when the
  rollbacks and the hypothesis run (see :class:`Runtime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seawall.experiment._fields import Field

__all__ = [
    "HYPOTHESIS_STRATEGIES",
    "ROLLBACK_STRATEGIES",
    "ControlSpec",
    "Runtime",
    "parse_configuration",
    "parse_controls",
    "parse_runtime",
    "parse_secrets",
]

ROLLBACK_STRATEGIES = ("default", "always", "never", "deviated")
HYPOTHESIS_STRATEGIES = (
    "default",
    "before-method-only",
    "after-method-only",
    "during-method",
    "continuously",
)
_ENV_KEYS = {"type", "key", "default", "env_var_type"}
_CASTS = {"str": str, "int": int, "float": float}


@dataclass(frozen=True)
class Runtime:
    """When rollbacks and the hypothesis run.

    ``rollbacks`` is ``None`` when the experiment does not say: seawall then runs them
    whatever happened, because a fault left in place outlives the experiment. Given, it
    has Chaos Toolkit's meaning: ``default`` skips them after a failed or interrupted
    run, ``always`` and ``never`` say it, ``deviated`` runs them only after a deviation.
    ``hypothesis``: ``default`` checks before and after the method; ``before-method-only``
    and ``after-method-only`` skip the other check; ``during-method`` re-checks every
    ``frequency`` seconds while the method runs (journal ``steady_states.during``), and
    ``continuously`` does both. With ``fail_fast`` a failed check during the method stops
    the method.
    """

    rollbacks: str | None = None
    hypothesis: str = "default"
    frequency: float = 1.0
    fail_fast: bool = False

    @property
    def before(self) -> bool:
        return self.hypothesis in ("default", "before-method-only", "continuously")

    @property
    def after(self) -> bool:
        return self.hypothesis in ("default", "after-method-only", "continuously")

    @property
    def during(self) -> bool:
        return self.hypothesis in ("during-method", "continuously")


@dataclass(frozen=True)
class ControlSpec:
    """A Python control: a module whose ``before_*_control``/``after_*_control`` run."""

    name: str
    module: str
    arguments: tuple[tuple[str, Any], ...] = ()


def _env_value(item: Field, raw: dict[str, Any], environ: Mapping[str, str]) -> Any:
    item.mapping(_ENV_KEYS)
    item.get("type", required=True).string(choices=("env",))
    env_key = item.get("key", required=True).string()
    kind = item.get("env_var_type").string(default="str", choices=tuple(_CASTS))
    if env_key in environ:
        try:
            return _CASTS[kind](environ[env_key])
        except ValueError:
            raise item.error(
                f"environment variable {env_key}={environ[env_key]!r} is not {kind}"
            ) from None
    if "default" in raw:
        return raw["default"]
    raise item.error(f"environment variable {env_key} is not set and no default")


def parse_configuration(
    node: Field, variables: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The configuration's values, environment read, ``variables`` (``--var``) winning."""
    values: dict[str, Any] = {}
    if not node.missing:
        for key, raw in node.mapping().items():
            item = node.child(key, raw)
            if isinstance(raw, dict):
                values[key] = _env_value(item, raw, environ)
            elif isinstance(raw, list):
                raise item.error("must be a value or {type: env, key: NAME}")
            else:
                values[key] = raw
    values.update(variables)
    return values


def parse_secrets(node: Field, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """``{scope: {key: value}}`` with environment references read."""
    scopes: dict[str, dict[str, Any]] = {}
    if node.missing:
        return scopes
    for scope, entries in node.mapping().items():
        scope_node = node.child(scope, entries)
        values: dict[str, Any] = {}
        for key, raw in scope_node.mapping().items():
            item = scope_node.child(key, raw)
            if isinstance(raw, dict):
                kind = item.get("type", required=True).string()
                if kind != "env":
                    raise item.get("type").error(
                        f"{kind!r} secrets are not supported: use {{type: env, key: NAME}} "
                        "or a value"
                    )
                values[key] = _env_value(item, raw, environ)
            elif isinstance(raw, list):
                raise item.error("must be a value or {type: env, key: NAME}")
            else:
                values[key] = raw
        scopes[scope] = values
    return scopes


def parse_controls(node: Field) -> tuple[ControlSpec, ...]:
    if node.missing:
        return ()
    controls = []
    for item in node.items():
        item.mapping({"name", "provider", "scope", "automatic"})
        provider = item.get("provider", required=True)
        provider.mapping({"type", "module", "arguments"})
        provider.get("type", required=True).string(choices=("python",))
        arguments = provider.get("arguments")
        if not arguments.missing:
            arguments.mapping()
        controls.append(
            ControlSpec(
                name=item.get("name", required=True).string(),
                module=provider.get("module", required=True).string(),
                arguments=tuple((arguments.plain() or {}).items()),
            )
        )
    return tuple(controls)


def parse_runtime(node: Field) -> Runtime:
    if node.missing:
        return Runtime()
    node.mapping({"rollbacks", "hypothesis"})
    rollbacks = node.get("rollbacks")
    strategy: str | None = None
    if not rollbacks.missing:
        rollbacks.mapping({"strategy"})
        strategy = rollbacks.get("strategy").string(default="default", choices=ROLLBACK_STRATEGIES)
    hypothesis = node.get("hypothesis")
    if hypothesis.missing:
        return Runtime(rollbacks=strategy)
    hypothesis.mapping({"strategy", "frequency", "fail_fast"})
    return Runtime(
        rollbacks=strategy,
        hypothesis=hypothesis.get("strategy").string(
            default="default", choices=HYPOTHESIS_STRATEGIES
        ),
        frequency=hypothesis.get("frequency").number(default=1.0, minimum=0.01, maximum=3600),
        fail_fast=hypothesis.get("fail_fast").boolean(default=False),
    )
