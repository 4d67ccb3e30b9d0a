"""Python-provider targets for the runner tests: a tiny "system" whose state the
experiment's actions change and whose probes read it, recording every call in order."""

from __future__ import annotations

from typing import Any

calls: list[str] = []
state: dict[str, Any] = {"healthy": True, "status": 200}


def reset() -> None:
    calls.clear()
    state.clear()
    state.update(healthy=True, status=200)


def health() -> bool:
    calls.append("health")
    return bool(state["healthy"])


def status() -> dict[str, Any]:
    calls.append("status")
    return {"status": state["status"], "body": {"service": "shop", "ok": state["healthy"]}}


def break_it(status: int = 503) -> str:
    calls.append("break")
    state["healthy"] = False
    state["status"] = status
    return "broken"


def mend() -> str:
    calls.append("mend")
    state["healthy"] = True
    state["status"] = 200
    return "mended"


def note(name: str) -> str:
    calls.append(name)
    return name


def fail() -> None:
    calls.append("fail")
    raise RuntimeError("the action could not run")


def interrupt() -> None:
    calls.append("interrupt")
    raise KeyboardInterrupt


seen: dict[str, Any] = {}


def with_configuration(name: str, configuration: dict[str, Any] | None = None) -> str:
    """Like a driver's function: it finds its server through ``configuration``."""
    calls.append(name)
    assert configuration is not None, "configuration was not passed"
    seen["configuration"] = configuration
    return str(configuration.get("server_url"))


def with_secrets(
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    seen["configuration"], seen["secrets"] = configuration, secrets
    return True
