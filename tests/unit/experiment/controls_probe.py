"""A Chaos Toolkit control module for the tests: records each hook it receives."""

from __future__ import annotations

from typing import Any

from tests.unit.experiment import probes


def configure_control(configuration: dict[str, Any] | None = None, **_: Any) -> None:
    probes.calls.append(f"control:configure:{sorted(configuration or {})}")


def before_experiment_control(context: dict[str, Any], **_: Any) -> None:
    probes.calls.append(f"control:before_experiment:{context['title']}")


def after_experiment_control(context: dict[str, Any], state: Any, **_: Any) -> None:
    probes.calls.append(f"control:after_experiment:{state['status']}")


def before_method_control(context: Any, **_: Any) -> None:
    probes.calls.append("control:before_method")


def after_method_control(context: Any, state: Any, **_: Any) -> None:
    probes.calls.append(f"control:after_method:{len(state)}")


def before_activity_control(context: dict[str, Any], **_: Any) -> None:
    probes.calls.append(f"control:before_activity:{context['name']}")


def after_rollback_control(context: Any, state: Any, label: str = "", **_: Any) -> None:
    probes.calls.append(f"control:after_rollback:{label}")


def cleanup_control() -> None:
    probes.calls.append("control:cleanup")


def before_hypothesis_control(context: dict[str, Any], **_: Any) -> None:
    probes.calls.append(f"control:before_hypothesis:{context['title']}")
