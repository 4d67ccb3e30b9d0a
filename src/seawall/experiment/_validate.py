"""What ``chaos validate`` checks beyond an experiment's shape, before anything runs.

Parsing proves the file is well formed; these checks prove it can run here: an executable
found for each ``process`` provider, an importable module with the function, and arguments
its signature accepts, for each ``python`` provider and probe tolerance. Each would
otherwise fail only when the run reaches it - possibly after a fault went in - so
``seawall experiment run`` and ``validate`` refuse the file first. A control that does not
import is only a warning, as with ``chaos validate``: the run carries on without it.
"""

from __future__ import annotations

import importlib
import os
import shutil

from seawall.experiment._experiment import Activity, Experiment
from seawall.experiment._providers import ProcessProvider, PythonProvider, check_python

__all__ = ["missing_controls", "unrunnable"]


def _activities(experiment: Experiment) -> list[Activity]:
    probes = list(experiment.hypothesis.probes) if experiment.hypothesis else []
    return [*probes, *experiment.method, *experiment.rollbacks]


def unrunnable(experiment: Experiment) -> list[str]:
    """What ``chaos validate`` refuses beyond the file's shape, one line each.

    A process whose executable is not found, a Python module that does not import, a
    function it does not have, or arguments its signature cannot take: each would fail
    only when the run reaches it - possibly after the fault went in - so they are found
    before anything runs.
    """
    problems = []
    for activity in _activities(experiment):
        where = f"{experiment.source}:{activity.line}: {activity.type} {activity.name!r}"
        provider = activity.provider
        if isinstance(provider, ProcessProvider):
            path = provider.path
            found = shutil.which(path) if os.sep not in path else path
            if not found or not os.path.exists(found):
                problems.append(f"{where}: process path {path!r} cannot be found")
            elif not os.access(found, os.X_OK):
                problems.append(f"{where}: process path {path!r} is not executable")
        elif isinstance(provider, PythonProvider):
            problem = check_python(provider.module, provider.func, dict(provider.arguments))
            if problem:
                problems.append(f"{where}: {problem}")
        tolerance = activity.tolerance
        if isinstance(tolerance, dict) and tolerance.get("type") == "probe":
            spec = tolerance["provider"]
            arguments = {**(spec.get("arguments") or {}), "value": None}
            problem = check_python(str(spec.get("module")), str(spec.get("func")), arguments)
            if problem:
                problems.append(f"{where}: tolerance probe: {problem}")
    return problems


def missing_controls(experiment: Experiment) -> list[str]:
    """Controls whose module does not import: ``chaos validate`` warns and so do we."""
    warnings = []
    scoped = [a.controls for a in _activities(experiment)]
    if experiment.hypothesis is not None:
        scoped.append(experiment.hypothesis.controls)
    every = {c: None for specs in (experiment.controls, *scoped) for c in specs}
    for control in every:
        try:
            importlib.import_module(control.module)
        except Exception as exc:  # any failure to import leaves the control out
            warnings.append(
                f"{experiment.source}: control {control.name!r}: cannot import Python module "
                f"{control.module!r} ({type(exc).__name__}: {exc}); the run will carry on "
                "without it"
            )
    return warnings
