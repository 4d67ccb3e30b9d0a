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
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

from seawall.experiment._context import ActivityFailed, RunContext
from seawall.experiment._fields import Field

__all__ = ["HttpProvider", "ProcessProvider", "Provider", "PythonProvider"]

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
_PYTHON_KEYS = {"type", "module", "func", "arguments"}
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
    timeout: float = DEFAULT_TIMEOUT
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
            timeout=field.get("timeout").number(
                default=DEFAULT_TIMEOUT, minimum=0.001, maximum=MAX_TIMEOUT
            ),
            expected_status=codes,
            verify_tls=field.get("verify_tls").boolean(default=True),
        )

    def describe(self) -> str:
        return f"{self.method} {self.url}"

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
            with httpx.Client(timeout=self.timeout, verify=self.verify_tls) as client:
                response = client.request(self.method, self.url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ActivityFailed(f"{self.describe()} timed out after {self.timeout:g}s") from exc
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


@dataclass(frozen=True)
class PythonProvider:
    module: str
    func: str
    arguments: tuple[tuple[str, Any], ...] = ()

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
        )

    def describe(self) -> str:
        return f"{self.module}.{self.func}()"

    def run(self, ctx: RunContext) -> Any:
        try:
            target = getattr(importlib.import_module(self.module), self.func)
        except ImportError as exc:
            raise ActivityFailed(f"cannot import {self.module!r}: {exc}") from exc
        except AttributeError as exc:
            raise ActivityFailed(f"{self.module!r} has no function {self.func!r}") from exc
        if not callable(target):
            raise ActivityFailed(f"{self.module}.{self.func} is not callable")
        return target(**dict(self.arguments))
