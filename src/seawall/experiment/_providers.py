"""The generic providers of Chaos Toolkit: ``http``, ``process`` and ``python``.

Each provider is a frozen value parsed (and validated, line-aware) from its mapping, with
one method, ``run(ctx)``, returning the activity's output or raising
:class:`ActivityFailed`. Outputs follow Chaos Toolkit, so tolerances written for it work:
``http`` gives ``{"status", "headers", "body"}`` (the body parsed when it is JSON) and
``process`` gives ``{"status", "stdout", "stderr"}``. Unlike Chaos Toolkit, every call is
bounded: http and process default to a 30 s timeout, and neither may exceed 10 minutes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from seawall.experiment._context import ActivityFailed, RunContext
from seawall.experiment._fields import Field

__all__ = ["HttpProvider", "ProcessProvider", "Provider", "PythonProvider", "call_python"]

MAX_TIMEOUT = 600.0
DEFAULT_TIMEOUT = 30.0
_HTTP_KEYS = {
    "type",
    "url",
    "method",
    "headers",
    "arguments",
    "timeout",
    "expected_status",
    "verify_tls",
}
_PROCESS_KEYS = {"type", "path", "arguments", "timeout", "cwd", "env"}
_PYTHON_KEYS = {"type", "module", "func", "arguments", "secrets"}
_OUTPUT_LIMIT = 64 * 1024


class Provider(Protocol):
    """Anything an activity can run."""

    def run(self, ctx: RunContext) -> Any: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class HttpProvider:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    arguments: Any = None
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
    expected_status: tuple[int, ...] = ()
    verify_tls: bool = True

    @classmethod
    def parse(cls, field: Field) -> HttpProvider:
        field.mapping(_HTTP_KEYS)
        url = field.get("url", required=True)
        if not url.string().startswith(("http://", "https://")):
            raise url.error(f"must be an http:// or https:// URL, not {url.value!r}")
        arguments = field.get("arguments")
        if not arguments.missing and not isinstance(arguments.value, dict | list | str):
            raise arguments.error("must be a mapping, a list or a string")
        expected = field.get("expected_status")
        codes: tuple[int, ...] = ()
        if not expected.missing:
            items = expected.items() if isinstance(expected.value, list) else [expected]
            codes = tuple(i.integer(minimum=100, maximum=599) for i in items)
        return cls(
            url=url.string(),
            method=field.get("method").string(default="GET").upper(),
            headers=tuple(field.get("headers").string_map().items()),
            arguments=arguments.plain(),
            timeout=_http_timeout(field.get("timeout")),
            expected_status=codes,
            verify_tls=field.get("verify_tls").boolean(default=True),
        )

    def describe(self) -> str:
        return f"{self.method} {self.url}"

    def _timeout(self) -> Any:
        import httpx

        if isinstance(self.timeout, tuple):  # Chaos Toolkit's [connect, read]
            connect, read = self.timeout
            return httpx.Timeout(read, connect=connect)
        return httpx.Timeout(self.timeout)

    def _timeout_text(self) -> str:
        if isinstance(self.timeout, tuple):
            return f"{self.timeout[0]:g}s to connect, {self.timeout[1]:g}s to read"
        return f"{self.timeout:g}s"

    def run(self, ctx: RunContext) -> Any:
        import httpx

        headers = dict(self.headers)
        kwargs: dict[str, Any] = {}
        if self.method == "GET" and isinstance(self.arguments, dict):
            kwargs["params"] = self.arguments
        elif self.arguments is not None:
            # Chaos Toolkit sends a mapping as a form unless the content type says JSON.
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
            if isinstance(self.arguments, str):
                kwargs["content"] = self.arguments
            elif isinstance(self.arguments, dict) and "json" not in content_type:
                kwargs["data"] = self.arguments
            else:
                kwargs["json"] = self.arguments
        try:
            with httpx.Client(timeout=self._timeout(), verify=self.verify_tls) as client:
                response = client.request(self.method, self.url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ActivityFailed(f"{self.describe()} timed out ({self._timeout_text()})") from exc
        except httpx.HTTPError as exc:
            raise ActivityFailed(f"{self.describe()} failed: {exc}") from exc
        body: Any = response.text[:_OUTPUT_LIMIT]
        if "json" in response.headers.get("content-type", ""):
            with contextlib.suppress(ValueError):
                body = response.json()
        if self.expected_status and response.status_code not in self.expected_status:
            raise ActivityFailed(
                f"{self.describe()} answered {response.status_code}, "
                f"expected {list(self.expected_status)}"
            )
        return {"status": response.status_code, "headers": dict(response.headers), "body": body}


def _http_timeout(field: Field) -> float | tuple[float, float]:
    """A number of seconds, or Chaos Toolkit's ``[connect, read]`` pair."""
    if isinstance(field.value, list):
        items = field.items()
        if len(items) != 2:
            raise field.error("must be seconds, or a [connect, read] pair of seconds")
        connect, read = (i.number(minimum=0.001, maximum=MAX_TIMEOUT) for i in items)
        return (connect, read)
    return field.number(default=DEFAULT_TIMEOUT, minimum=0.001, maximum=MAX_TIMEOUT)


def _process_arguments(field: Field) -> tuple[str, ...]:
    value = field.value
    if field.missing or value is None:
        return ()
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise field.error(f"cannot split into arguments: {exc}") from None
    if isinstance(value, list):
        return tuple(str(item.plain()) for item in field.items())
    if isinstance(value, dict):  # Chaos Toolkit: {"name": value} -> --name value
        out: list[str] = []
        for key, item in value.items():
            out.append(f"--{key}")
            if item is not None and item != "":
                out.append(str(item))
        return tuple(out)
    raise field.error("must be a string, a list or a mapping")


@dataclass(frozen=True)
class ProcessProvider:
    path: str
    arguments: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, field: Field) -> ProcessProvider:
        field.mapping(_PROCESS_KEYS)
        return cls(
            path=field.get("path", required=True).string(),
            arguments=_process_arguments(field.get("arguments")),
            timeout=field.get("timeout").number(
                default=DEFAULT_TIMEOUT, minimum=0.001, maximum=MAX_TIMEOUT
            ),
            cwd=field.get("cwd").optional_string(),
            env=tuple(field.get("env").string_map().items()),
        )

    def describe(self) -> str:
        return shlex.join([self.path, *self.arguments])

    def run(self, ctx: RunContext) -> Any:
        import os

        env = {**os.environ, **dict(self.env)} if self.env else None
        try:
            done = subprocess.run(
                [self.path, *self.arguments],
                capture_output=True,
                timeout=self.timeout,
                cwd=self.cwd,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ActivityFailed(f"{self.describe()} ran over {self.timeout:g}s") from exc
        except OSError as exc:
            raise ActivityFailed(f"cannot run {self.path!r}: {exc.strerror or exc}") from exc
        return {
            "status": done.returncode,
            "stdout": done.stdout[:_OUTPUT_LIMIT].decode("utf-8", "replace"),
            "stderr": done.stderr[:_OUTPUT_LIMIT].decode("utf-8", "replace"),
        }


def _function(module: str, func: str) -> Callable[..., Any]:
    try:
        target = getattr(importlib.import_module(module), func)
    except ImportError as exc:
        raise ActivityFailed(f"cannot import {module!r}: {exc}") from exc
    except AttributeError as exc:
        raise ActivityFailed(f"{module!r} has no function {func!r}") from exc
    if not callable(target):
        raise ActivityFailed(f"{module}.{func} is not callable")
    return cast("Callable[..., Any]", target)


def call_python(
    module: str,
    func: str,
    arguments: dict[str, Any],
    *,
    configuration: dict[str, Any],
    secrets: dict[str, dict[str, Any]],
    scopes: tuple[str, ...],
) -> Any:
    """Call ``module.func(**arguments)`` the way Chaos Toolkit does.

    A function that declares a ``configuration`` parameter gets a copy of the
    experiment's configuration; one that declares ``secrets`` gets the secrets of the
    ``scopes`` its provider lists, merged (its own default when the provider lists none).
    Extension drivers find their servers and credentials this way; without it they fail
    on ``None``.
    """
    target = _function(module, func)
    arguments = dict(arguments)
    try:
        parameters = set(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # some builtins have no signature to read
        parameters = set()
    if scopes and "secrets" in parameters and "secrets" not in arguments:
        merged: dict[str, Any] = {}
        for scope in scopes:
            merged.update(secrets.get(scope, {}))
        arguments["secrets"] = merged
    if "configuration" in parameters and "configuration" not in arguments:
        arguments["configuration"] = dict(configuration)
    return target(**arguments)


def check_python(module: str, func: str, arguments: dict[str, Any]) -> str | None:
    """What ``chaos validate`` would refuse about this call, or ``None``."""
    try:
        target = getattr(importlib.import_module(module), func, None)
    except Exception as exc:  # an import that fails in any way cannot run
        return f"cannot import Python module {module!r}: {type(exc).__name__}: {exc}"
    if target is None or not callable(target):
        return f"Python module {module!r} has no function {func!r}"
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    bound = dict(arguments)
    for injected in ("configuration", "secrets"):
        if injected in signature.parameters:
            bound.setdefault(injected, None)
    try:
        signature.bind(**bound)
    except TypeError as exc:
        return f"{module}.{func}: arguments do not match its signature: {exc}"
    return None


@dataclass(frozen=True)
class PythonProvider:
    module: str
    func: str
    arguments: tuple[tuple[str, Any], ...] = ()
    secrets: tuple[str, ...] = ()

    @classmethod
    def parse(cls, field: Field) -> PythonProvider:
        field.mapping(_PYTHON_KEYS)
        arguments = field.get("arguments")
        if not arguments.missing:
            arguments.mapping()
        return cls(
            module=field.get("module", required=True).string(),
            func=field.get("func", required=True).string(),
            arguments=tuple((arguments.plain() or {}).items()),
            secrets=field.get("secrets").strings(default=()),
        )

    def describe(self) -> str:
        return f"{self.module}.{self.func}()"

    def run(self, ctx: RunContext) -> Any:
        return call_python(
            self.module,
            self.func,
            dict(self.arguments),
            configuration=ctx.configuration,
            secrets=ctx.secrets,
            scopes=self.secrets,
        )
