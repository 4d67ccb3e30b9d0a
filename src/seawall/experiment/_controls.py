"""Chaos Toolkit controls: Python hooks around the experiment, its phases and activities.

A control names a module; the functions it defines among ``configure_control``,
``before_experiment_control``, ``after_experiment_control``, ``before_hypothesis_control``,
``after_hypothesis_control``, ``before_method_control``, ``after_method_control``,
``before_rollback_control``, ``after_rollback_control``, ``before_activity_control``,
``after_activity_control`` and ``cleanup_control`` are called as chaoslib calls them:
with ``context=`` (the experiment or the activity), ``state=`` for the ``after_`` ones,
and ``configuration``, ``secrets``, ``experiment`` when they declare those parameters.

As with ``chaos run``, a control whose module cannot be imported is reported as a warning
and the experiment carries on: a control observes or decorates a run (logging, tracing,
notifications), and a missing one must not stop a fault from being rolled back. A control
that raises is reported the same way, and the run carries on.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from seawall.experiment._sections import ControlSpec

__all__ = ["Controls"]


class Controls:
    """The experiment's loaded controls; each call runs every control that has the hook."""

    def __init__(
        self,
        specs: tuple[ControlSpec, ...],
        experiment: dict[str, Any],
        configuration: dict[str, Any],
        secrets: dict[str, dict[str, Any]],
        warn: Callable[[str], None],
    ) -> None:
        self._experiment = experiment
        self._configuration = configuration
        self._secrets = secrets
        self._warn = warn
        self._loaded: list[tuple[ControlSpec, ModuleType]] = []
        for spec in specs:
            try:
                self._loaded.append((spec, importlib.import_module(spec.module)))
            except Exception as exc:  # chaos warns and runs on; so do we
                warn(
                    f"control {spec.name!r}: cannot import Python module {spec.module!r} "
                    f"({type(exc).__name__}: {exc}); the experiment carries on without it"
                )

    def _call(self, hook: str, **given: Any) -> None:
        for spec, module in self._loaded:
            func = getattr(module, hook, None)
            if not callable(func):
                continue
            arguments = dict(spec.arguments)
            try:
                parameters = set(inspect.signature(func).parameters)
            except (TypeError, ValueError):  # no signature to read: pass only what it is given
                parameters = set()
            extras = {
                "configuration": self._configuration,
                "secrets": self._secrets,
                "experiment": self._experiment,
                "extensions": self._experiment.get("extensions"),
                "settings": {},
            }
            for name, value in extras.items():
                if name in parameters:
                    arguments[name] = value
            if "state" in given and "state" not in parameters:
                given = {k: v for k, v in given.items() if k != "state"}
            try:
                func(**given, **arguments)
            except Exception as exc:
                self._warn(f"control {spec.name!r}: {hook} raised {type(exc).__name__}: {exc}")

    def configure(self) -> None:
        self._call("configure_control")

    def cleanup(self) -> None:
        self._call("cleanup_control")

    def before(self, level: str, context: Any) -> None:
        self._call(f"before_{level}_control", context=context)

    def after(self, level: str, context: Any, state: Any) -> None:
        self._call(f"after_{level}_control", context=context, state=state)
